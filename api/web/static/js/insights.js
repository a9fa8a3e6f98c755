// Agents and trends: per agent (the name given at upload) the means of talk share, the
// customer's sentiment change, interruptions and QA score; per day, week or month the calls,
// sentiment, QA, topics and categories. Tables, with meters for the numbers that compare.

import { getJSON } from './api.js';
import { h, heading, percent, signed } from './util.js';

const INTERVALS = [['day', 'Day'], ['week', 'Week'], ['month', 'Month']];

export async function showInsights(main, params) {
  document.title = 'Agents and trends · Callytics';
  const interval = INTERVALS.some(([value]) => value === params.get('interval')) ? params.get('interval') : 'week';
  const [agents, trends] = await Promise.all([
    getJSON('/v1/agents'),
    getJSON('/v1/trends', { interval }),
  ]);
  main.append(heading('Agents and trends'), agentsTable(agents), trendsSection(trends, interval));
  main.querySelector('h1').focus();
}

function meter(value, max, label) {
  if (value === null || value === undefined) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'measure' },
    h('meter', { min: '0', max: String(max), value: String(value), 'aria-label': label }),
    ' ', h('span', { class: 'number' }, String(Math.round(value))));
}

function agentsTable(agents) {
  const section = h('section', { 'aria-labelledby': 'agents-title' },
    h('h2', { id: 'agents-title' }, 'Agents'));
  if (!agents.length) {
    section.append(h('p', { class: 'muted' }, 'No call has an agent yet: give one when you upload (the Agent field, or `agent` in the API).'));
    return section;
  }
  section.append(h('div', { class: 'scroll' }, h('table', { id: 'agents-table' },
    h('caption', {}, 'Means over each agent’s calls; most calls first.'),
    h('thead', {}, h('tr', {},
      ['Agent', 'Calls', 'Agent talk share', 'Customer sentiment change', 'Interruptions by the agent', 'QA score']
        .map((name) => h('th', { scope: 'col' }, name)))),
    h('tbody', {}, agents.map((a) => h('tr', { dataset: { agent: a.agent } },
      h('th', { scope: 'row' }, h('a', { href: `#/calls?agent=${encodeURIComponent(a.agent)}`, 'aria-label': `${a.agent}: list their calls` }, a.agent)),
      h('td', {}, String(a.calls)),
      h('td', {}, percent(a.mean_talk_ratio)),
      h('td', {}, signed(a.mean_customer_sentiment_change)),
      h('td', {}, a.mean_interruptions === null ? '—' : a.mean_interruptions.toFixed(1)),
      h('td', {}, meter(a.mean_qa_score, 100, `QA score of ${a.agent}`))))))));
  return section;
}

function counts(map, kind) {
  const entries = Object.entries(map || {});
  if (!entries.length) return h('span', { class: 'muted' }, '—');
  return h('ul', { class: `chips ${kind}s` },
    entries.slice(0, 5).map(([name, n]) => h('li', { class: `chip ${kind}` }, `${name} · ${n}`)));
}

function trendsSection(trends, interval) {
  const select = h('select', { id: 'trend-interval', name: 'interval' },
    INTERVALS.map(([value, text]) => h('option', { value, selected: value === interval }, text)));
  const form = h('form', { class: 'filters', 'aria-label': 'Trend period' },
    h('div', { class: 'field' }, h('label', { for: 'trend-interval' }, 'Per'), select),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Show')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    window.location.hash = `#/insights?interval=${select.value}`;
  });
  const most = Math.max(1, ...trends.map((t) => t.calls));
  const periodName = Object.fromEntries(INTERVALS)[interval].toLowerCase();
  const label = (start) => {
    const at = new Date(start);
    if (interval === 'month') return at.toLocaleDateString(undefined, { year: 'numeric', month: 'long', timeZone: 'UTC' });
    const day = at.toLocaleDateString(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
    return interval === 'week' ? `Week of ${day}` : day;
  };
  return h('section', { 'aria-labelledby': 'trends-title' },
    h('h2', { id: 'trends-title' }, 'Over time'),
    form,
    trends.length
      ? h('div', { class: 'scroll' }, h('table', { id: 'trends-table' },
        h('caption', {}, `Per ${periodName} (UTC), oldest first.`),
        h('thead', {}, h('tr', {},
          ['Period', 'Calls', 'Customer sentiment', 'QA score', 'Topics', 'Categories']
            .map((name) => h('th', { scope: 'col' }, name)))),
        h('tbody', {}, trends.map((t) => h('tr', {},
          h('th', { scope: 'row' }, label(t.start)),
          h('td', {}, meter(t.calls, most, `Calls, ${label(t.start)}`)),
          h('td', {}, signed(t.mean_customer_sentiment)),
          h('td', {}, meter(t.mean_qa_score, 100, `QA score, ${label(t.start)}`)),
          h('td', {}, counts(t.topics, 'topic')),
          h('td', {}, counts(t.categories, 'category')))))))
      : h('p', { class: 'muted' }, 'No calls yet.'));
}
