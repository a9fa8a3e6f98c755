// Small DOM and formatting helpers. Text always goes in as text nodes, never as HTML:
// transcripts, file names and summaries are other people's words.

/** h('a', {href: '#/x', class: 'y', onclick: f}, 'text', child) -> an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElementNS(
    tag === 'svg' || attrs.svg ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml',
    tag,
  );
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false || name === 'svg') continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** An SVG element: s('rect', {x: 1}). */
export function s(tag, attrs = {}, ...children) {
  return h(tag, { ...attrs, svg: true }, ...children);
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** 75.4 -> "1:15"; 3725 -> "1:02:05". */
export function clock(seconds) {
  const total = Math.max(0, Math.floor(seconds ?? 0));
  const hh = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = String(total % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** 75.4 -> "1 min 15 s"; 4.25 -> "4.3 s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  const rest = Math.round(seconds - m * 60);
  return rest ? `${m} min ${rest} s` : `${m} min`;
}

export function percent(ratio) {
  return ratio === null || ratio === undefined ? '—' : `${Math.round(ratio * 100)}%`;
}

export function signed(value, digits = 2) {
  if (value === null || value === undefined) return '—';
  const text = value.toFixed(digits);
  return value > 0 ? `+${text}` : text;
}

export function date(iso) {
  if (!iso) return '—';
  const at = new Date(iso);
  return at.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The same bound as the API's sentiment filter (SENTIMENT_BOUND in core/calls/catalog.py). */
export function sentimentLabel(score) {
  if (score === null || score === undefined) return 'unknown';
  if (score > 0.05) return 'positive';
  if (score < -0.05) return 'negative';
  return 'neutral';
}

export function roleName(role) {
  if (role === 'agent') return 'Agent';
  if (role === 'customer') return 'Customer';
  return 'Speaker';
}

/** Say something to screen readers (the page's polite live region). */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  requestAnimationFrame(() => { region.textContent = message; });
}

export function errorBox(error, title = 'Something went wrong') {
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, title), ' ',
    h('span', { class: 'error-message' }, error.message || String(error)),
    error.hint ? h('p', { class: 'hint' }, error.hint) : null);
}

export function heading(text, level = 1) {
  return h(`h${level}`, { tabindex: '-1', class: 'page-title' }, text);
}
