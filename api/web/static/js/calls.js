// The calls list (filters, newest first, a page at a time) and semantic search, whose hits
// open the call at the utterance that matched.

import { getJSON } from './api.js';
import { clock, date, duration, errorBox, h, heading, roleName, sentimentLabel, signed } from './util.js';

const FILTERS = ['topic', 'agent', 'team', 'metadata', 'sentiment', 'conflict', 'resolution', 'category', 'created_after', 'created_before'];
const PAGE = 25;

export async function showCalls(main, params) {
  document.title = 'Calls · Callytics';
  const [categories, agents] = await Promise.all([
    getJSON('/v1/categories').then((c) => c.items ?? c).catch(() => []),
    getJSON('/v1/agents').catch(() => []),
  ]);
  const form = filterForm(params, categories, agents);
  const caption = h('caption', {}, 'Loading calls…');
  const body = h('tbody');
  const table = h('table', { class: 'calls', id: 'calls-table' },
    caption,
    h('thead', {}, h('tr', {},
      ['Call', 'Received', 'Length', 'Agent', 'Team', 'Outcome', 'Customer sentiment', 'Topics', 'Categories']
        .map((name) => h('th', { scope: 'col' }, name)))),
    body);
  const more = h('button', { type: 'button', id: 'more-calls', class: 'secondary', hidden: true }, 'Show more');
  main.append(heading('Calls'), form, h('div', { class: 'scroll' }, table), more);
  main.querySelector('h1').focus();

  const query = {};
  for (const name of FILTERS) {
    const value = params.get(name);
    if (!value) continue;
    // Dates are the user's own days: from the start of the first to the end of the last.
    if (name === 'created_after') query[name] = new Date(`${value}T00:00:00`).toISOString();
    else if (name === 'created_before') query[name] = new Date(`${value}T23:59:59.999`).toISOString();
    else query[name] = value;
  }
  let cursor = null;
  const load = async () => {
    more.disabled = true;
    const page = await getJSON('/v1/calls', { ...query, limit: PAGE, ...(cursor ? { cursor } : {}) });
    body.append(...page.items.map(callRow));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    more.disabled = false;
    const shown = body.childElementCount;
    caption.textContent = page.total
      ? `${page.total} call${page.total === 1 ? '' : 's'}${Object.keys(query).length ? ' match the filters' : ''}; ${shown} shown`
      : 'No calls match. Upload one, or clear the filters.';
  };
  more.addEventListener('click', () => load().catch((error) => more.replaceWith(errorBox(error))));
  await load();
}

function filterForm(params, categories, agents) {
  const select = (name, label, options) => h('div', { class: 'field' },
    h('label', { for: `f-${name}` }, label),
    h('select', { id: `f-${name}`, name },
      options.map(([value, text]) => h('option', { value, selected: params.get(name) === value && value !== '' }, text))));
  const input = (name, label, attrs = {}) => h('div', { class: 'field' },
    h('label', { for: `f-${name}` }, label),
    h('input', { id: `f-${name}`, name, value: params.get(name) || '', ...attrs }));
  const form = h('form', { class: 'filters', id: 'call-filters', 'aria-label': 'Filter calls' },
    input('topic', 'Topic', { maxlength: '100', autocomplete: 'off' }),
    input('agent', 'Agent', { maxlength: '100', autocomplete: 'off', list: 'agent-names' }),
    h('datalist', { id: 'agent-names' }, agents.map((a) => h('option', { value: a.agent }))),
    input('team', 'Team', { maxlength: '200', autocomplete: 'off' }),
    input('metadata', 'Detail (key:value)', {
      maxlength: '265', autocomplete: 'off', placeholder: 'e.g. queue:vip', pattern: '[A-Za-z0-9_\\-]+:.+',
      title: 'A metadata key and its value, e.g. queue:vip or customer_id:C-17',
    }),
    select('sentiment', 'Customer sentiment', [['', 'Any'], ['positive', 'Positive'], ['neutral', 'Neutral'], ['negative', 'Negative']]),
    select('conflict', 'Conflict', [['', 'Any'], ['true', 'Conflict'], ['false', 'No conflict']]),
    select('resolution', 'Outcome', [['', 'Any'], ['resolved', 'Resolved'], ['unresolved', 'Unresolved'], ['unknown', 'Unknown']]),
    select('category', 'Category', [['', 'Any'], ...categories.map((c) => [c.name, c.name])]),
    input('created_after', 'From', { type: 'date' }),
    input('created_before', 'Until', { type: 'date' }),
    h('div', { class: 'buttons' },
      h('button', { type: 'submit' }, 'Filter'),
      h('a', { href: '#/calls', class: 'button secondary' }, 'Clear')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value) chosen.set(name, value);
    window.location.hash = `#/calls${chosen.size ? `?${chosen}` : ''}`;
  });
  return form;
}

function callRow(call) {
  const sentiment = call.customer_sentiment;
  return h('tr', { dataset: { call: call.id } },
    h('th', { scope: 'row' }, h('a', { href: `#/calls/${call.id}` }, call.filename),
      call.summary ? h('p', { class: 'summary' }, call.summary) : null),
    h('td', {}, date(call.created_at)),
    h('td', {}, duration(call.duration_s)),
    h('td', {}, call.agent || h('span', { class: 'muted' }, '—')),
    h('td', {}, call.metadata?.team ?? h('span', { class: 'muted' }, '—')),
    h('td', {}, h('span', { class: `badge outcome-${call.resolution || 'unknown'}` }, call.resolution || 'unknown'),
      call.conflict ? h('span', { class: 'badge conflict' }, 'conflict') : null),
    h('td', {}, h('span', { class: `badge sentiment-${sentimentLabel(sentiment)}` }, sentimentLabel(sentiment)),
      ' ', h('span', { class: 'number' }, signed(sentiment))),
    h('td', {}, chips(call.topics)),
    h('td', {}, chips(call.categories, 'category')));
}

export function chips(items, kind = 'topic') {
  if (!items?.length) return h('span', { class: 'muted' }, '—');
  return h('ul', { class: `chips ${kind}s` }, items.map((item) => h('li', { class: `chip ${kind}` }, item)));
}

export async function showSearch(main, params) {
  document.title = 'Search · Callytics';
  const q = params.get('q') || '';
  const role = params.get('role') || '';
  const form = h('form', { class: 'search', id: 'search-form', role: 'search' },
    h('div', { class: 'field grow' },
      h('label', { for: 'search-q' }, 'What was said'),
      h('input', { id: 'search-q', name: 'q', type: 'search', value: q, maxlength: '1000', autocomplete: 'off', placeholder: 'e.g. customer wants a refund' })),
    h('div', { class: 'field' },
      h('label', { for: 'search-role' }, 'Said by'),
      h('select', { id: 'search-role', name: 'role' },
        [['', 'Anyone'], ['agent', 'Agent'], ['customer', 'Customer']]
          .map(([value, text]) => h('option', { value, selected: role === value && value !== '' }, text)))),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Search')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value.trim()) chosen.set(name, value.trim());
    window.location.hash = `#/search?${chosen}`;
  });
  main.append(heading('Search calls by meaning'), form);
  if (!q.trim()) {
    main.append(h('p', { class: 'hint' }, 'Type what a speaker said, in your own words: the search finds utterances that mean it, not only the same words.'));
    form.querySelector('input').focus();
    return;
  }
  main.querySelector('h1').focus();
  const results = await getJSON('/v1/search', { q, k: 20, ...(role ? { role } : {}) });
  const list = h('ol', { class: 'hits', id: 'search-hits', 'aria-label': `Results for ${q}` },
    results.hits.map((hit) => h('li', { class: `hit role-${hit.role}` },
      h('a', { href: `#/calls/${hit.call_id}?u=${hit.utterance_index}`, class: 'hit-link' },
        h('q', { class: 'hit-text' }, hit.text)),
      h('p', { class: 'hit-meta' },
        `${roleName(hit.role)} at ${clock(hit.start)} in ${hit.filename} · `,
        h('span', { class: 'score', title: 'Cosine similarity to the query' }, `match ${hit.score.toFixed(2)}`)))));
  main.append(
    h('p', { role: 'status', id: 'search-summary' },
      results.hits.length ? `${results.hits.length} utterance${results.hits.length === 1 ? '' : 's'}, best first.` : 'Nothing found.'),
    list,
  );
}
