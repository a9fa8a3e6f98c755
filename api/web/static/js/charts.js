// Two hand-drawn SVG charts of a call: the timeline (who talked when, silences, interruptions)
// and sentiment over time per speaker. Both take a seek(seconds) callback: a click jumps the
// player there. Each is an image with a text description; the numbers are also in tables.

import { clock, h, roleName, s } from './util.js';

const WIDTH = 1000;
const LABEL = 110; // left margin for lane labels
const SILENCE_S = 2; // gaps at least this long are drawn as silence

export function roleOf(document) {
  const roles = new Map(document.speakers.map((sp) => [sp.id, sp.role || 'unknown']));
  return (speaker) => roles.get(speaker) || 'unknown';
}

/** The call's length: the recording's, or the last utterance's end when it is missing. */
function callLength(document) {
  return document.audio.duration_s || Math.max(0, ...document.utterances.map((u) => u.end));
}

/** The utterances that interrupt, as the server counted them (metrics.interruptions);
 * none for a call analysed before the document listed them. */
function interruptions(document) {
  return (document.metrics?.interruption_utterances || [])
    .map((index) => document.utterances[index])
    .filter(Boolean);
}

function silences(utterances, total) {
  const spans = [];
  let covered = 0;
  for (const u of [...utterances].sort((a, b) => a.start - b.start)) {
    if (u.start - covered >= SILENCE_S) spans.push([covered, u.start]);
    covered = Math.max(covered, u.end);
  }
  if (total - covered >= SILENCE_S) spans.push([covered, total]);
  return spans;
}

function clickable(svg, total, seek, left = LABEL, width = WIDTH) {
  svg.addEventListener('click', (event) => {
    const box = svg.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * width;
    if (x >= left) seek(((x - left) / (width - left)) * total);
  });
}

export function timeline(document, seek) {
  const total = callLength(document);
  const role = roleOf(document);
  const speakers = document.speakers.map((sp) => sp.id);
  const lane = 26;
  const height = (speakers.length + 1) * lane + 26;
  const x = (t) => LABEL + (t / total) * (WIDTH - LABEL);
  const gaps = silences(document.utterances, total);
  const cuts = interruptions(document);
  const svg = s('svg', {
    viewBox: `0 0 ${WIDTH} ${height}`, class: 'chart timeline', id: 'timeline', role: 'img',
    'aria-label': `Timeline: ${speakers.length} speakers over ${clock(total)}, ${gaps.length} silences of ${SILENCE_S} s or more, ${document.metrics?.interruptions ?? cuts.length} interruptions. Click to play from a moment.`,
  });
  speakers.forEach((id, n) => {
    const y = n * lane + 4;
    svg.append(
      s('text', { x: 4, y: y + 15, class: `lane-label role-${role(id)}` }, `${roleName(role(id))} ${id}`),
      s('line', { x1: LABEL, x2: WIDTH, y1: y + lane / 2, y2: y + lane / 2, class: 'lane-line' }),
    );
    document.utterances.forEach((u, index) => {
      if (u.speaker !== id) return;
      svg.append(s('rect', {
        x: x(u.start), y: y + 3, width: Math.max(1, x(u.end) - x(u.start)), height: lane - 6,
        class: `turn role-${role(id)}`, 'data-utterance': index,
      }, s('title', {}, `${roleName(role(id))} ${clock(u.start)}–${clock(u.end)}: ${u.text}`)));
    });
  });
  const silenceY = speakers.length * lane + 4;
  svg.append(s('text', { x: 4, y: silenceY + 15, class: 'lane-label' }, 'Silence'));
  for (const [start, end] of gaps) {
    svg.append(s('rect', { x: x(start), y: silenceY + 5, width: Math.max(1, x(end) - x(start)), height: lane - 10, class: 'silence' },
      s('title', {}, `Silence ${clock(start)}–${clock(end)} (${(end - start).toFixed(1)} s)`)));
  }
  for (const u of cuts) {
    const n = speakers.indexOf(u.speaker);
    const cx = x(u.start);
    const y = n * lane + 2;
    svg.append(s('path', { d: `M${cx - 6},${y} L${cx + 6},${y} L${cx},${y + 9} Z`, class: 'interruption' },
      s('title', {}, `${roleName(role(u.speaker))} interrupts at ${clock(u.start)}`)));
  }
  axis(svg, total, height - 20, x);
  const playhead = s('line', { x1: LABEL, x2: LABEL, y1: 0, y2: height - 20, class: 'playhead' });
  svg.append(playhead);
  clickable(svg, total, seek);
  const legend = h('ul', { class: 'legend' },
    h('li', {}, h('span', { class: 'swatch role-agent' }), 'Agent'),
    h('li', {}, h('span', { class: 'swatch role-customer' }), 'Customer'),
    h('li', {}, h('span', { class: 'swatch silence' }), `Silence (${SILENCE_S} s or more)`),
    h('li', {}, h('span', { class: 'swatch interruption' }), 'Interruption'));
  return {
    el: h('figure', { class: 'figure' }, svg, h('figcaption', {}, legend)),
    move(t) {
      const px = x(Math.min(t, total));
      playhead.setAttribute('x1', px);
      playhead.setAttribute('x2', px);
    },
  };
}

function axis(svg, total, y, x) {
  const step = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].find((st) => total / st <= 10) || 7200;
  for (let t = 0; t <= total; t += step) {
    svg.append(
      s('line', { x1: x(t), x2: x(t), y1: y, y2: y + 4, class: 'tick' }),
      s('text', { x: x(t), y: y + 16, class: 'tick-label', 'text-anchor': 'middle' }, clock(t)),
    );
  }
}

export function sentimentChart(document, seek) {
  const total = callLength(document);
  const role = roleOf(document);
  // Narrower than the timeline: it sits in a column, and its labels should stay legible.
  const width = 640;
  const left = 70;
  const height = 170;
  const top = 10;
  const plot = height - 40;
  const x = (t) => left + (t / total) * (width - left);
  const y = (score) => top + ((1 - score) / 2) * plot;
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart sentiment', id: 'sentiment-chart', role: 'img',
    'aria-label': sentimentDescription(document, role),
  });
  for (const [score, label] of [[1, 'positive'], [0, 'neutral'], [-1, 'negative']]) {
    svg.append(
      s('line', { x1: left, x2: width, y1: y(score), y2: y(score), class: score === 0 ? 'zero' : 'grid' }),
      s('text', { x: left - 8, y: y(score) + 4, class: 'tick-label', 'text-anchor': 'end' }, label),
    );
  }
  for (const sp of document.speakers) {
    const points = document.utterances
      .filter((u) => u.speaker === sp.id && u.sentiment && u.sentiment.score !== null)
      .map((u) => [x((u.start + u.end) / 2), y(u.sentiment.score), u]);
    if (!points.length) continue;
    svg.append(s('polyline', {
      points: points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' '),
      class: `series role-${role(sp.id)}`,
    }));
    for (const [px, py, u] of points) {
      svg.append(s('circle', { cx: px, cy: py, r: 4, class: `dot role-${role(sp.id)}` },
        s('title', {}, `${roleName(role(sp.id))} at ${clock(u.start)}: ${u.sentiment.label} (${u.sentiment.score.toFixed(2)})`)));
    }
  }
  axis(svg, total, height - 24, x);
  clickable(svg, total, seek, left, width);
  return h('figure', { class: 'figure' }, svg, h('figcaption', {},
    h('ul', { class: 'legend' },
      h('li', {}, h('span', { class: 'swatch role-agent' }), 'Agent'),
      h('li', {}, h('span', { class: 'swatch role-customer' }), 'Customer')),
    quarterTable(document)));
}

function sentimentDescription(document, role) {
  const parts = document.speakers.map((sp) => {
    const mean = sp.sentiment_mean;
    return `${roleName(role(sp.id))} ${sp.id} averages ${mean === null || mean === undefined ? 'unknown' : mean.toFixed(2)}`;
  });
  return `Sentiment per utterance over the call, from -1 (negative) to +1 (positive). ${parts.join('; ')}.`;
}

function quarterTable(document) {
  const quarters = document.metrics?.sentiment_by_quarter;
  if (!quarters) return null;
  const cell = (v) => (v === null || v === undefined ? '—' : v.toFixed(2));
  return h('table', { class: 'quarters' },
    h('caption', {}, 'Mean sentiment by quarter of the call'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Side'),
      ['1st', '2nd', '3rd', '4th'].map((q) => h('th', { scope: 'col' }, q)))),
    h('tbody', {}, Object.entries(quarters).map(([side, values]) => h('tr', {},
      h('th', { scope: 'row' }, roleName(side)), (values || []).map((v) => h('td', {}, cell(v)))))));
}
