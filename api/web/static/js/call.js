// One call: the player synced with the transcript (click a word to seek; the utterance being
// played is highlighted), the timeline and sentiment charts, metrics, the analysis with its
// evidence linked to utterances, categories, QA, redaction, and the transcript downloads.

import { blobURL, download, getJSON, send, watchJob } from './api.js';
import { chips } from './calls.js';
import { roleOf, sentimentChart, timeline } from './charts.js';
import { STAGES } from './upload.js';
import { announce, clock, date, duration, errorBox, h, heading, percent, roleName, signed } from './util.js';

export async function showCall(main, params, callId) {
  const [document_, categories] = await Promise.all([
    getJSON(`/v1/calls/${callId}`),
    getJSON(`/v1/calls/${callId}/categories`).then((c) => c.categories).catch(() => []),
  ]);
  const doc = document_;
  document.title = `${doc.filename} · Callytics`;
  const role = roleOf(doc);

  const audio = h('audio', { controls: true, preload: 'auto', id: 'player', 'aria-label': `Recording of ${doc.filename}` });
  const audioState = h('p', { class: 'hint', id: 'player-state' }, 'Loading the recording…');
  const seek = (seconds) => {
    audio.currentTime = Math.max(0, seconds);
    transcript.follow(seconds, true);
    chart.move(seconds);
  };
  const chart = timeline(doc, seek);
  const transcript = new Transcript(doc, role, seek);

  main.append(
    h('div', { class: 'call-head' },
      heading(doc.filename),
      h('p', { class: 'meta' },
        `Received ${date(doc.created_at)} · ${duration(doc.audio.duration_s)} · `,
        `${doc.audio.channels === 2 ? 'stereo' : 'mono'} · language ${doc.language || '—'}`,
        doc.agent ? ` · agent ${doc.agent}` : ''),
      downloads(callId, doc),
      actions(callId, doc)),
    h('section', { class: 'player', 'aria-label': 'Player' }, audio, audioState, chart.el),
    h('div', { class: 'columns' },
      h('div', { class: 'column-main' },
        h('section', { 'aria-labelledby': 'sentiment-title' },
          h('h2', { id: 'sentiment-title' }, 'Sentiment over time'), sentimentChart(doc, seek)),
        transcript.el),
      h('div', { class: 'column-side' },
        metadataSection(doc.metadata),
        analysisSection(doc, transcript),
        categoriesSection(categories),
        qaSection(doc.qa, transcript),
        redactionSection(doc.redaction),
        metricsSection(doc, role),
        warningsSection(doc.warnings))),
  );

  let url = null;
  let closed = false;
  blobURL(`/v1/calls/${callId}/audio`).then((made) => {
    if (closed) {
      URL.revokeObjectURL(made);
      return;
    }
    url = made;
    audio.src = url;
    audioState.textContent = doc.redaction?.enabled
      ? 'The recording with personal data silenced.' : 'Click a word, a timestamp or the timeline to play from there.';
  }).catch((error) => audioState.replaceWith(errorBox(error, 'No recording to play:')));

  const onTime = () => {
    transcript.follow(audio.currentTime, false);
    chart.move(audio.currentTime);
  };
  audio.addEventListener('timeupdate', onTime);
  audio.addEventListener('seeked', onTime);

  const wanted = Number.parseInt(params.get('u') ?? '', 10);
  if (Number.isInteger(wanted) && transcript.items[wanted]) {
    transcript.reveal(wanted);
    const start = doc.utterances[wanted].start;
    const jump = () => seek(start);
    if (audio.readyState >= 1) jump();
    else audio.addEventListener('loadedmetadata', jump, { once: true });
  } else {
    main.querySelector('h1').focus();
  }
  return () => {
    closed = true;
    audio.pause();
    if (url) URL.revokeObjectURL(url);
  };
}

class Transcript {
  constructor(doc, role, seek) {
    this.doc = doc;
    this.seek = seek;
    this.current = -1;
    this.currentWord = null;
    this.follows = h('input', { type: 'checkbox', id: 'follow', checked: true });
    this.items = doc.utterances.map((u, index) => this.utterance(u, index, role));
    this.starts = doc.utterances.map((u) => u.start);
    this.list = h('ol', { class: 'transcript', id: 'transcript' }, this.items);
    this.list.addEventListener('click', (event) => {
      const word = event.target.closest('.w');
      if (word) seek(Number(word.dataset.start));
    });
    this.el = h('section', { 'aria-labelledby': 'transcript-title' },
      h('div', { class: 'section-head' },
        h('h2', { id: 'transcript-title' }, 'Transcript'),
        h('div', { class: 'field checkbox' }, this.follows, h('label', { for: 'follow' }, 'Scroll with the player'))),
      h('p', { class: 'hint' }, 'Click a word, or press a timestamp, to play from there.'),
      this.list);
  }

  utterance(u, index, role) {
    const who = role(u.speaker);
    const words = u.words?.length ? u.words : [{ word: u.text, start: u.start, end: u.end }];
    const text = h('p', { class: 'text' });
    words.forEach((w, n) => {
      text.append(h('span', { class: 'w', dataset: { start: w.start, end: w.end } }, w.word.trim()));
      if (n < words.length - 1) text.append(' ');
    });
    const sentiment = u.sentiment?.label
      ? h('span', { class: `badge sentiment-${u.sentiment.label}`, title: `sentiment ${signed(u.sentiment.score)}` }, u.sentiment.label)
      : null;
    return h('li', { class: `utterance role-${who}`, id: `u-${index}`, dataset: { index, start: u.start, end: u.end } },
      h('div', { class: 'utterance-head' },
        h('button', {
          type: 'button', class: 'time', 'aria-label': `Play from ${clock(u.start)}, ${roleName(who)}`,
          onclick: () => this.seek(u.start),
        }, clock(u.start)),
        h('span', { class: `speaker role-${who}` }, `${roleName(who)} · ${u.speaker}`),
        sentiment),
      text);
  }

  /** Highlight the utterance (and word) playing at ``t``; scroll to it when following. */
  follow(t, force) {
    let index = -1;
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] <= t + 0.01) {
        index = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Between two utterances the last one stays lit until the next starts.
    if (index !== this.current) {
      this.items[this.current]?.classList.remove('current');
      this.items[this.current]?.removeAttribute('aria-current');
      this.current = index;
      const item = this.items[index];
      if (item) {
        item.classList.add('current');
        item.setAttribute('aria-current', 'true');
        if (this.follows.checked || force) item.scrollIntoView({ block: 'nearest' });
      }
    }
    const item = this.items[index];
    const word = item ? [...item.querySelectorAll('.w')].findLast((w) => Number(w.dataset.start) <= t + 0.01) : null;
    if (word !== this.currentWord) {
      this.currentWord?.classList.remove('playing');
      word?.classList.add('playing');
      this.currentWord = word;
    }
  }

  /** Open the call at utterance ``index`` (a search hit, an evidence link). */
  reveal(index) {
    const item = this.items[index];
    if (!item) return;
    for (const other of this.list.querySelectorAll('.hit')) other.classList.remove('hit');
    item.classList.add('hit');
    item.scrollIntoView({ block: 'center' });
    item.querySelector('button.time').focus({ preventScroll: true });
  }

  link(index, label) {
    const u = this.doc.utterances[index];
    if (!u) return h('span', {}, label ?? `#${index}`);
    return h('a', {
      href: `#u-${index}`, class: 'evidence', dataset: { utterance: index },
      onclick: (event) => {
        event.preventDefault();
        this.reveal(index);
        this.seek(u.start);
      },
    }, label ?? `${clock(u.start)} “${u.text}”`);
  }
}

function downloads(callId, doc) {
  const stem = doc.filename.replace(/\.[^.]+$/, '') || 'transcript';
  const formats = [['txt', 'Text'], ['srt', 'SRT subtitles'], ['vtt', 'WebVTT'], ['json', 'JSON']];
  return h('div', { class: 'downloads', role: 'group', 'aria-label': 'Download the transcript' },
    h('span', { class: 'label' }, 'Transcript:'),
    formats.map(([format, label]) => h('button', {
      type: 'button', class: 'secondary small', dataset: { format },
      onclick: async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try {
          const name = await download(`/v1/calls/${callId}/transcript?format=${format}`, `${stem}.${format}`);
          announce(`Downloaded ${name}.`);
        } catch (error) {
          button.after(errorBox(error, 'Download failed:'));
        } finally {
          button.disabled = false;
        }
      },
    }, label)));
}

/** Analyse the stored recording again (analyst) or delete the call (admin). */
function actions(callId, doc) {
  const status = h('div', { class: 'action-status', id: 'call-action-status', role: 'status' });
  const again = h('button', { type: 'button', class: 'secondary small', id: 'reanalyze' }, 'Analyse again');
  const remove = h('button', { type: 'button', class: 'danger small', id: 'delete-call' }, 'Delete call');
  const stageName = Object.fromEntries(STAGES);
  const failed = (error, title) => {
    status.replaceChildren(errorBox(error, title));
    again.disabled = false;
  };
  again.addEventListener('click', async () => {
    again.disabled = true;
    status.replaceChildren('Queued to be analysed again…');
    try {
      const { job_id: jobId } = await send('POST', `/v1/calls/${callId}/reanalyze`);
      watchJob(jobId, {
        event: ({ stage, progress, status: state, message }) => {
          if (state === 'succeeded') {
            announce(`${doc.filename} was analysed again.`);
            window.dispatchEvent(new Event('callytics:rerender'));
          } else if (state === 'failed') {
            failed({ message }, 'The new analysis failed:');
          } else if (stageName[stage]) {
            status.replaceChildren(`Analysing again: ${stageName[stage]} ${Math.round(progress * 100)}%`);
          }
        },
        error: (error) => failed(error, 'Live progress stopped:'),
      });
    } catch (error) {
      failed(error, 'Could not analyse it again:');
    }
  });
  remove.addEventListener('click', async () => {
    const sure = window.confirm(`Delete ${doc.filename}? Its recording, transcript, analysis and search entries are removed for good; only who deleted it and when is kept.`);
    if (!sure) return;
    try {
      await send('DELETE', `/v1/calls/${callId}`);
      announce(`${doc.filename} was deleted.`);
      window.location.hash = '#/calls';
    } catch (error) {
      status.replaceChildren(errorBox(error, 'Could not delete it:'));
    }
  });
  return h('div', { class: 'actions', role: 'group', 'aria-label': 'Call actions' }, again, remove, status);
}

function analysisSection(doc, transcript) {
  const a = doc.analysis;
  const section = h('section', { 'aria-labelledby': 'analysis-title', id: 'analysis' },
    h('h2', { id: 'analysis-title' }, 'What the call was about'));
  if (!a) {
    section.append(h('p', { class: 'muted' }, 'No analysis: the language model stage failed for this call (see warnings).'));
    return section;
  }
  const conflict = a.conflict || {};
  section.append(
    h('p', { class: 'summary', id: 'summary' }, a.summary || '—'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Reason'), h('dd', {}, a.reason || '—'),
      h('dt', {}, 'Outcome'), h('dd', {}, h('span', { class: `badge outcome-${a.resolution}` }, a.resolution || 'unknown')),
      h('dt', {}, 'Topics'), h('dd', {}, chips(a.topics)),
      h('dt', {}, 'Conflict'), h('dd', { id: 'conflict' },
        conflict.detected ? 'Yes' : 'No',
        conflict.detected && conflict.evidence?.length
          ? h('ul', { class: 'evidence-list' }, conflict.evidence.map((i) => h('li', {}, transcript.link(i))))
          : null),
      h('dt', {}, 'Profanity'), h('dd', {},
        a.profanity?.length
          ? h('ul', { class: 'evidence-list' }, a.profanity.map((p) => h('li', {}, transcript.link(p.utterance, `${p.words.join(', ')} (${clock(doc.utterances[p.utterance]?.start)})`))))
          : 'None'),
      h('dt', {}, 'Action items'), h('dd', {},
        a.action_items?.length ? h('ul', {}, a.action_items.map((item) => h('li', {}, item))) : 'None')),
    h('p', { class: 'hint', id: 'analysed-by' }, analysedBy(a)),
  );
  return section;
}

// "Analysed by llama:qwen… (summary, reason by the model; the rest by rules)."
function analysedBy(a) {
  const byModel = Object.entries(a.sources || {}).filter(([, s]) => s === 'model').map(([f]) => f.replace('_', ' '));
  if (!byModel.length) return `Analysed by ${a.provider === 'rules' ? 'rules' : a.provider + ' (every field by rules)'}.`;
  return `Analysed by ${a.provider} (${byModel.join(', ')} by the model; the rest by rules).`;
}

function categoriesSection(categories) {
  return h('section', { 'aria-labelledby': 'categories-title', id: 'categories' },
    h('h2', { id: 'categories-title' }, 'Categories'),
    categories.length ? chips(categories, 'category') : h('p', { class: 'muted' }, 'No custom category matches this call.'));
}

function qaSection(qa, transcript) {
  if (!qa) return null;
  const mark = (passed) => {
    if (passed === true) return h('span', { class: 'badge pass' }, 'passed');
    if (passed === false) return h('span', { class: 'badge fail' }, 'missed');
    return h('span', { class: 'badge na' }, 'not applicable');
  };
  return h('section', { 'aria-labelledby': 'qa-title', id: 'qa' },
    h('h2', { id: 'qa-title' }, 'QA scorecard'),
    h('p', { class: 'qa-score' },
      h('span', { class: 'big' }, qa.score === null ? '—' : `${Math.round(qa.score)}`), ' / 100 ',
      h('span', { class: 'muted' }, `(${qa.scorecard}, scored by ${qa.method})`)),
    h('ul', { class: 'qa-items' }, qa.items.map((item) => h('li', { dataset: { item: item.id } },
      mark(item.passed), ' ', h('strong', {}, item.name),
      item.evidence ? h('div', {}, transcript.link(item.evidence.utterance)) : null))));
}

function redactionSection(redaction) {
  if (!redaction?.enabled) return null;
  const counts = Object.entries(redaction.counts || {});
  return h('section', { 'aria-labelledby': 'redaction-title', id: 'redaction' },
    h('h2', { id: 'redaction-title' }, 'Personal data redacted'),
    counts.length
      ? h('ul', {}, counts.map(([type, n]) => h('li', {}, `${type.replaceAll('_', ' ').toLowerCase()}: ${n}`)))
      : h('p', {}, 'Redaction was on; nothing was found.'),
    h('p', { class: 'hint' }, `Tags replace it in the transcript; the stored recording is ${redaction.audio} there.`));
}

function metricsSection(doc, role) {
  const m = doc.metrics || {};
  const row = (label, value) => [h('dt', {}, label), h('dd', {}, value)];
  return h('section', { 'aria-labelledby': 'metrics-title', id: 'metrics' },
    h('h2', { id: 'metrics-title' }, 'How the conversation went'),
    h('dl', { class: 'facts' },
      row('Talk time', duration(m.talk_time_s)),
      row('Silence', `${duration(m.non_talk_time_s)} (${percent(m.silence_ratio)})`),
      row('Longest silence', duration(m.longest_silence_s)),
      row('Overlap', duration(m.overlap_s)),
      row('Interruptions', String(m.interruptions ?? '—')),
      row('Agent talk share', percent(m.agent_talk_ratio)),
      row('Agent response time', m.mean_response_latency_s === null || m.mean_response_latency_s === undefined ? '—' : `${m.mean_response_latency_s.toFixed(1)} s on average`),
      row('Customer sentiment trend', signed(m.customer_sentiment_trend))),
    h('div', { class: 'scroll' }, h('table', { class: 'speakers' },
      h('caption', {}, 'Per speaker'),
      h('thead', {}, h('tr', {}, ['Speaker', 'Talk time', 'Share', 'Words/min', 'Interruptions', 'Sentiment']
        .map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, doc.speakers.map((sp) => h('tr', {},
        h('th', { scope: 'row' }, h('span', { class: `speaker role-${role(sp.id)}` }, `${roleName(role(sp.id))} · ${sp.id}`)),
        h('td', {}, duration(sp.talk_time_s)),
        h('td', {}, percent(sp.talk_ratio)),
        h('td', {}, sp.words_per_minute === null || sp.words_per_minute === undefined ? '—' : Math.round(sp.words_per_minute)),
        h('td', {}, String(sp.interruptions ?? '—')),
        h('td', {}, signed(sp.sentiment_mean))))))));
}

// The metadata given at upload or ingest: the well-known keys first, each a link to the
// calls with the same value.
const KNOWN_KEYS = ['agent', 'team', 'queue', 'direction', 'customer_id', 'external_id', 'started_at'];

function metadataSection(metadata) {
  const keys = Object.keys(metadata || {});
  if (!keys.length) return null;
  keys.sort((a, b) => (KNOWN_KEYS.indexOf(a) + 1 || 99) - (KNOWN_KEYS.indexOf(b) + 1 || 99) || a.localeCompare(b));
  const text = (value) => String(value); // booleans as true/false, as the filter matches
  const filter = (key, value) => (key === 'agent'
    ? `#/calls?${new URLSearchParams({ agent: text(value) })}`
    : `#/calls?${new URLSearchParams({ metadata: `${key}:${text(value)}` })}`);
  return h('section', { 'aria-labelledby': 'metadata-title', id: 'call-metadata' },
    h('h2', { id: 'metadata-title' }, 'Call details'),
    h('dl', { class: 'facts' },
      keys.flatMap((key) => [
        h('dt', {}, key.replaceAll('_', ' ')),
        h('dd', { dataset: { key } },
          h('a', { href: filter(key, metadata[key]), title: `Calls with ${key} ${text(metadata[key])}` }, text(metadata[key]))),
      ])));
}

function warningsSection(warnings) {
  if (!warnings?.length) return null;
  return h('section', { 'aria-labelledby': 'warnings-title', id: 'warnings' },
    h('h2', { id: 'warnings-title' }, 'Warnings'),
    h('ul', {}, warnings.map((w) => h('li', {}, w))));
}
