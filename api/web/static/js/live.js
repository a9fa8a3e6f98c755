// Live calls: those streaming in now (#/live, read again every few seconds while shown) and
// one call as it happens (#/live/<id>). The liveCall subscription first replays what the call
// said so far, then follows it: each channel's partial utterance (replaced as it grows,
// gone when its final comes), final utterances with their sentiment, the running metrics
// and alerts, until it hangs up and its recording goes to the post-call analysis.

import { ApiError, graphql, subscribe, watchJob } from './api.js';
import { sentimentChart } from './charts.js';
import { STAGES } from './upload.js';
import { announce, clock, date, duration, errorBox, h, heading, percent, roleName, signed } from './util.js';

const REFRESH_MS = 3000;

const LIST = `query LiveCalls($includeEnded: Boolean!) {
  liveCalls(includeEnded: $includeEnded) {
    id status agent createdAt durationS callId alerts { kind }
  }
}`;

const CALL = `query LiveCall($id: ID!) {
  liveCall(id: $id) { id status agent channels createdAt }
}`;

const EVENTS = `subscription LiveEvents($id: ID!) {
  liveCall(id: $id) {
    seq type
    partial { channel speaker role start end text committed }
    utterance { index speaker role start end text sentiment { label score } }
    alert { kind message atS category piiType utterance }
    metrics jobId callId
  }
}`;

const DROPPED = 'The caller’s stream dropped. The call may resume; otherwise what was received is analysed.';
const STATUS_TEXT = { live: 'live', dropped: 'dropped, may resume', ended: 'ended' };

const lower = (value) => (value || '').toLowerCase();

function statusBadge(status, attrs = {}) {
  return h('span', { ...attrs, class: `badge status status-${status}` }, STATUS_TEXT[status] || status);
}

/** The API's times are UTC; one stored without its zone (SQLite) is read as UTC too. */
function utc(iso) {
  return iso && !/(Z|[+-]\d\d:?\d\d)$/i.test(iso) ? `${iso}Z` : iso;
}

function timeOfDay(iso) {
  return iso ? new Date(utc(iso)).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '—';
}

// ---------------------------------------------------------------------------- the list

export async function showLiveCalls(main, params) {
  document.title = 'Live calls · Callytics';
  const includeEnded = params.get('ended') === '1';
  const toggle = h('input', { type: 'checkbox', id: 'live-include-ended', checked: includeEnded });
  toggle.addEventListener('change', () => {
    window.location.hash = toggle.checked ? '#/live?ended=1' : '#/live';
  });
  const caption = h('caption', {}, 'Loading live calls…');
  const body = h('tbody');
  const table = h('div', { class: 'scroll' }, h('table', { class: 'calls', id: 'live-table' },
    caption,
    h('thead', {}, h('tr', {},
      ['Call', 'Status', 'Agent', 'Length so far', 'Alerts'].map((name) => h('th', { scope: 'col' }, name)))),
    body));
  const empty = h('div', { id: 'no-live-calls', class: 'empty', hidden: true },
    h('p', {}, includeEnded ? 'No live calls yet.' : 'No live calls now.'),
    h('p', { class: 'hint' },
      'A call shows here while it streams into ', h('code', {}, '/v1/live'),
      ' (a telephony bridge: see docs/live.md). To try one with a recording, run ',
      h('code', {}, 'callytics live simulate CALL.wav'), '.'));
  const problem = h('div', { id: 'live-list-problem' });
  main.append(
    heading('Live calls'),
    h('p', { class: 'hint' }, 'Calls in progress, read again every few seconds. Open one to follow it as it is spoken.'),
    h('div', { class: 'field checkbox' }, toggle, h('label', { for: 'live-include-ended' }, 'Show calls that have ended too')),
    table, empty, problem);
  main.querySelector('h1').focus();

  const rows = new Map();
  const load = async () => {
    const { liveCalls } = await graphql(LIST, { includeEnded });
    // Rows are updated in place: a link the user is on keeps its focus.
    const wanted = new Set(liveCalls.map((c) => c.id));
    for (const [id, row] of rows) {
      if (!wanted.has(id)) {
        row.el.remove();
        rows.delete(id);
      }
    }
    for (const call of liveCalls) {
      let row = rows.get(call.id);
      if (!row) {
        row = new LiveRow(call);
        rows.set(call.id, row);
      }
      row.update(call);
      body.append(row.el); // in the server's order: newest first
    }
    const open = liveCalls.filter((c) => c.status !== 'ended').length;
    caption.textContent = `${open} live call${open === 1 ? '' : 's'} now` +
      `${includeEnded ? `, ${liveCalls.length - open} ended` : ''} · updated ${timeOfDay(new Date().toISOString())}`;
    table.hidden = !liveCalls.length;
    empty.hidden = Boolean(liveCalls.length);
  };

  await load(); // a refusal here is the view's error (the router asks for a key on 401)
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        await load();
        problem.replaceChildren();
      } catch (error) {
        problem.replaceChildren(errorBox(error, 'The list could not be read again:'));
        if (error.status === 401) return;
      }
    }
    if (!stopped) timer = setTimeout(tick, REFRESH_MS);
  };
  timer = setTimeout(tick, REFRESH_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

class LiveRow {
  constructor(call) {
    const started = timeOfDay(call.createdAt);
    this.status = h('td');
    this.agent = h('td');
    this.length = h('td', { class: 'number' });
    this.alerts = h('td');
    this.el = h('tr', { dataset: { live: call.id } },
      h('th', { scope: 'row' },
        h('a', { href: `#/live/${call.id}`, 'aria-label': `Follow the call started at ${started}` }, `Call started ${started}`),
        h('p', { class: 'summary' }, date(utc(call.createdAt)))),
      this.status, this.agent, this.length, this.alerts);
  }

  update(call) {
    this.el.dataset.status = call.status;
    this.status.replaceChildren(statusBadge(call.status));
    if (call.status === 'ended' && call.callId) {
      this.status.append(' ', h('a', { href: `#/calls/${call.callId}`, class: 'stored-call' }, 'stored call'));
    }
    this.agent.replaceChildren(call.agent || h('span', { class: 'muted' }, '—'));
    // The audio received is saved as utterances end; while the call runs, its age says more.
    const age = (Date.now() - new Date(utc(call.createdAt)).getTime()) / 1000;
    this.length.textContent = clock(call.status === 'ended' ? call.durationS : Math.max(call.durationS, age));
    const n = call.alerts.length;
    const kinds = [...new Set(call.alerts.map((a) => a.kind.replace('_', ' ')))].join(', ');
    this.alerts.replaceChildren(n
      ? h('span', { class: 'badge alert-count', title: kinds }, `${n} alert${n === 1 ? '' : 's'}`)
      : h('span', { class: 'muted' }, 'none'));
  }
}

// ---------------------------------------------------------------------------- one call

export async function showLiveCall(main, params, liveId) {
  const { liveCall: info } = await graphql(CALL, { id: liveId });
  if (!info) {
    throw new ApiError(404, 'not_found', `There is no live call ${liveId}.`,
      'Open Live in the menu for the calls in progress.');
  }
  document.title = 'Live call · Callytics';
  const view = new LiveCallView(info);
  main.append(view.el);
  main.querySelector('h1').focus();

  // Completes after ENDED; a connection lost before it is said on the page (view.lost).
  const stop = subscribe(EVENTS, { id: liveId }, {
    next: ({ liveCall: event }) => view.event(event),
    error: (error) => view.lost(error),
  });
  return () => {
    stop();
    view.close();
  };
}

class LiveCallView {
  constructor(info) {
    this.info = info;
    this.utterances = new Map(); // index -> utterance (GraphQL's shape)
    this.items = new Map(); // index -> <li>
    this.partials = new Map(); // speaker -> <li>
    this.alertKeys = new Set();
    this.metricsNow = null;
    this.stopJob = null;
    this.frame = 0;

    this.status = statusBadge(info.status, { id: 'live-status' });
    this.notice = h('div', { id: 'live-notice', role: 'status' });
    this.follows = h('input', { type: 'checkbox', id: 'live-follow', checked: true });
    this.list = h('ol', { class: 'transcript', id: 'live-transcript', role: 'log', 'aria-label': 'Final utterances' });
    this.partialList = h('ul', { class: 'transcript', id: 'live-partials', 'aria-label': 'Being said now' });
    this.waiting = h('p', { class: 'muted', id: 'live-waiting' }, 'Nothing said yet: utterances show as they are spoken.');
    this.chart = h('div', { id: 'live-sentiment-chart' },
      h('p', { class: 'muted' }, 'Each side’s sentiment shows as their utterances end.'));
    this.alertCount = h('span', { class: 'count', id: 'live-alert-count' }, '');
    this.alertList = h('ol', { class: 'alerts', id: 'live-alert-list' });
    this.noAlerts = h('p', { class: 'muted', id: 'live-no-alerts' }, 'No alerts yet.');
    this.metrics = h('div', { id: 'live-metrics-body' }, h('p', { class: 'muted' }, 'The figures show once someone has spoken.'));

    this.el = h('div', { class: 'live-call', dataset: { live: info.id } },
      h('div', { class: 'call-head' },
        heading('Live call'),
        h('p', { class: 'meta' },
          this.status, ` Started ${date(utc(info.createdAt))} · ${info.channels === 2 ? 'stereo: agent and customer on their own channels' : 'mono'}`,
          info.agent ? ` · agent ${info.agent}` : '',
          ' · ', h('a', { href: '#/live' }, 'all live calls'))),
      this.notice,
      h('div', { class: 'columns' },
        h('div', { class: 'column-main' },
          h('section', { 'aria-labelledby': 'live-sentiment-title', id: 'live-sentiment' },
            h('h2', { id: 'live-sentiment-title' }, 'Sentiment so far'), this.chart),
          h('section', { 'aria-labelledby': 'live-transcript-title' },
            h('div', { class: 'section-head' },
              h('h2', { id: 'live-transcript-title' }, 'Transcript'),
              h('div', { class: 'field checkbox' }, this.follows, h('label', { for: 'live-follow' }, 'Scroll with the call'))),
            this.waiting, this.list, this.partialList)),
        h('div', { class: 'column-side' },
          h('section', { 'aria-labelledby': 'live-alerts-title', id: 'live-alerts', class: 'alerts-panel' },
            h('h2', { id: 'live-alerts-title' }, 'Alerts ', this.alertCount),
            this.noAlerts, this.alertList),
          h('section', { 'aria-labelledby': 'live-metrics-title', id: 'live-metrics' },
            h('h2', { id: 'live-metrics-title' }, 'How it is going'), this.metrics))));
    if (info.status === 'dropped') this.setStatus('dropped', DROPPED);
  }

  event(e) {
    switch (e.type) {
      case 'PARTIAL': this.partial(e.partial); break;
      case 'FINAL': this.final(e.utterance); break;
      case 'METRICS': this.showMetrics(e.metrics); break;
      case 'ALERT': this.alert(e.alert); break;
      case 'DROPPED': this.setStatus('dropped', DROPPED); break;
      case 'RESUMED': this.setStatus('live', ''); break;
      case 'ENDED': this.ended(e); break;
      default: break; // STARTED: the header already says it
    }
  }

  setStatus(status, message) {
    this.status.className = `badge status status-${status}`;
    this.status.textContent = STATUS_TEXT[status] || status;
    if (message !== undefined && !this.notice.querySelector('#live-ended')) {
      this.notice.replaceChildren(...(message ? [h('div', { class: 'notice' }, message)] : []));
    }
  }

  reveal(index) {
    const item = this.items.get(index);
    if (!item) return;
    for (const other of this.list.querySelectorAll('.hit')) other.classList.remove('hit');
    item.classList.add('hit');
    item.scrollIntoView({ block: 'center' });
  }

  follow(item) {
    if (this.follows.checked) item.scrollIntoView({ block: 'nearest' });
  }

  partial(p) {
    const role = lower(p.role);
    const committed = p.text.startsWith(p.committed) ? p.committed : '';
    const tentative = p.text.slice(committed.length);
    const item = h('li', { class: `utterance partial role-${role}`, dataset: { speaker: p.speaker, channel: p.channel } },
      h('div', { class: 'utterance-head' },
        h('span', { class: 'clock' }, clock(p.start)),
        h('span', { class: `speaker role-${role}` }, `${roleName(role)} · ${p.speaker}`),
        h('span', { class: 'speaking' }, 'speaking…')),
      h('p', { class: 'text' },
        committed ? h('span', { class: 'committed' }, committed) : null,
        tentative ? h('span', { class: 'tentative' }, tentative) : null));
    const old = this.partials.get(p.speaker);
    if (old) old.replaceWith(item);
    else this.partialList.append(item);
    this.partials.set(p.speaker, item);
    this.updateSilence();
    this.waiting.hidden = true;
    this.follow(item);
  }

  final(u) {
    this.partials.get(u.speaker)?.remove();
    this.partials.delete(u.speaker);
    this.updateSilence();
    const role = lower(u.role);
    const label = lower(u.sentiment?.label);
    const item = h('li', {
      class: `utterance final role-${role}`, id: `lu-${u.index}`,
      dataset: { index: u.index, start: u.start, end: u.end, speaker: u.speaker },
    },
    h('div', { class: 'utterance-head' },
      h('span', { class: 'clock' }, clock(u.start)),
      h('span', { class: `speaker role-${role}` }, `${roleName(role)} · ${u.speaker}`),
      label ? h('span', { class: `badge sentiment-${label}`, title: `sentiment ${signed(u.sentiment.score)}` }, label) : null),
    h('p', { class: 'text' }, u.text));
    const old = this.items.get(u.index);
    if (old) old.replaceWith(item);
    else {
      // In the order it was spoken: the two channels' finals can come out of order.
      const after = [...this.list.children].find((other) => Number(other.dataset.start) > u.start);
      this.list.insertBefore(item, after || null);
    }
    this.items.set(u.index, item);
    this.utterances.set(u.index, u);
    this.waiting.hidden = true;
    this.follow(item);
    if (u.sentiment) this.redrawChart();
  }

  /** The sentiment chart of the call page, drawn again (once a frame) from the finals so far. */
  redrawChart() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const utterances = [...this.utterances.values()].sort((a, b) => a.start - b.start).map((u) => ({
        ...u,
        role: lower(u.role),
        sentiment: u.sentiment ? { label: lower(u.sentiment.label), score: u.sentiment.score } : null,
      }));
      const means = new Map((this.metricsNow?.speakers || []).map((sp) => [sp.id, sp.sentiment_mean]));
      const roles = new Map(utterances.map((u) => [u.speaker, u.role]));
      const speakers = [...roles].sort(([a], [b]) => a.localeCompare(b))
        .map(([id, role]) => ({ id, role, sentiment_mean: means.get(id) ?? null }));
      const total = Math.max(this.metricsNow?.duration_s || 0, ...utterances.map((u) => u.end));
      if (!(total > 0)) return;
      const doc = { audio: { duration_s: total }, speakers, utterances, metrics: {} };
      this.chart.replaceChildren(sentimentChart(doc, (t) => {
        const at = utterances.findLast((u) => u.start <= t + 0.01) || utterances[0];
        if (at) this.reveal(at.index);
      }));
    });
  }

  showMetrics(m) {
    if (!m) return;
    this.metricsNow = m;
    const row = (label, value, name) => [h('dt', {}, label), h('dd', { dataset: { metric: name } }, value)];
    const speakers = m.speakers || [];
    this.metrics.replaceChildren(h('dl', { class: 'facts' },
      row('Call so far', duration(m.duration_s), 'duration'),
      row('Agent talk share', percent(m.agent_talk_ratio), 'agent-talk-ratio'),
      row('Silence now', this.silenceNow(), 'silence-now'),
      row('Longest silence', duration(m.longest_silence_s), 'longest-silence'),
      row('Interruptions', String(m.interruptions ?? '—'), 'interruptions'),
      row('Talk time', duration(m.talk_time_s), 'talk-time')));
    if (!speakers.length) return;
    this.metrics.append(h('div', { class: 'scroll' }, h('table', { class: 'speakers' },
      h('caption', {}, 'Per speaker'),
      h('thead', {}, h('tr', {}, ['Speaker', 'Share', 'Words/min', 'Sentiment'].map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, speakers.map((sp) => h('tr', {},
        h('th', { scope: 'row' }, h('span', { class: `speaker role-${lower(sp.role)}` }, `${roleName(lower(sp.role))} · ${sp.id}`)),
        h('td', {}, percent(sp.talk_ratio)),
        h('td', {}, sp.words_per_minute === null || sp.words_per_minute === undefined ? '—' : Math.round(sp.words_per_minute)),
        h('td', {}, signed(sp.sentiment_mean))))))));
  }

  /** The server's figure is as of the last final; while a side is speaking there is none. */
  silenceNow() {
    return this.partials.size ? 'none: someone is speaking' : duration(this.metricsNow?.silence_now_s);
  }

  updateSilence() {
    const silence = this.metrics.querySelector('[data-metric="silence-now"]');
    if (silence) silence.textContent = this.silenceNow();
  }

  alert(a) {
    const key = [a.kind, a.category, a.piiType, a.utterance, a.atS].join('|');
    if (this.alertKeys.has(key)) return;
    this.alertKeys.add(key);
    const kindLabel = { category: 'Category', negative_streak: 'Sentiment', pii: 'Personal data' }[a.kind] || a.kind;
    let title = a.kind;
    if (a.kind === 'category') title = a.category;
    else if (a.kind === 'negative_streak') title = 'Negative streak';
    else if (a.kind === 'pii') title = lower(a.piiType).replaceAll('_', ' ') || 'personal data';
    const dataset = a.category ? { kind: a.kind, category: a.category } : { kind: a.kind };
    const item = h('li', { class: `alert alert-${a.kind} fresh`, dataset },
      h('div', { class: 'alert-head' },
        h('span', { class: 'badge alert-kind' }, kindLabel),
        h('strong', { class: 'alert-title' }, title),
        h('span', { class: 'clock' }, `at ${clock(a.atS)}`)),
      h('p', { class: 'alert-message' }, a.message),
      a.utterance === null || a.utterance === undefined ? null : h('a', {
        href: `#lu-${a.utterance}`, class: 'evidence',
        onclick: (event) => {
          event.preventDefault();
          this.reveal(a.utterance);
        },
      }, 'Show in the transcript'));
    this.alertList.prepend(item);
    // The highlight fades (app.css); the class goes once it has, so a later one stands out.
    item.addEventListener('animationend', () => item.classList.remove('fresh'), { once: true });
    this.noAlerts.hidden = true;
    this.alertCount.textContent = `(${this.alertKeys.size})`;
    announce(`Alert: ${title}. ${a.message}`);
  }

  ended(e) {
    for (const item of this.partials.values()) item.remove();
    this.partials.clear();
    this.updateSilence();
    this.setStatus('ended');
    const title = h('strong', {}, 'Call ended — analysing');
    const progress = h('span', { class: 'job-progress' });
    this.notice.replaceChildren(h('div', { class: 'notice ended', id: 'live-ended' },
      title, ' ',
      e.callId
        ? h('a', { href: `#/calls/${e.callId}`, id: 'live-stored-call' }, 'Open the stored call')
        : h('span', {}, 'Nothing was recorded, so there is nothing to analyse.'),
      ' ', progress));
    announce('The call ended; its recording is being analysed.');
    if (!e.callId) title.textContent = 'Call ended';
    if (!e.jobId) return;
    const stageName = Object.fromEntries(STAGES);
    this.stopJob = watchJob(e.jobId, {
      event: ({ stage, progress: done, status, message }) => {
        if (status === 'succeeded') {
          title.textContent = 'Call ended — analysed';
          progress.textContent = '';
        } else if (status === 'failed') {
          title.textContent = 'Call ended — the analysis failed';
          progress.textContent = message || '';
        } else if (stageName[stage]) {
          progress.textContent = `(${stageName[stage]} ${Math.round(done * 100)}%)`;
        }
      },
      error: () => { progress.textContent = ''; },
    });
  }

  lost(error) {
    if (this.notice.querySelector('#live-ended')) return;
    const reconnect = h('button', {
      type: 'button', class: 'secondary small',
      onclick: () => window.dispatchEvent(new Event('callytics:rerender')),
    }, 'Follow it again');
    const shown = error.code === 'disconnected'
      ? { message: 'The connection to the server closed.', hint: 'Follow it again: what was said so far is replayed.' }
      : error;
    this.notice.replaceChildren(errorBox(shown, 'Live updates stopped:'), reconnect);
  }

  close() {
    this.stopJob?.();
    if (this.frame) cancelAnimationFrame(this.frame);
  }
}
