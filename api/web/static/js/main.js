// The page's router: #/calls, #/calls/<id>?u=<utterance>, #/live, #/live/<id>, #/upload,
// #/search?q=, #/insights.
// Each view renders into <main> and may return a function that tears it down.

import { credentials, setCredentials } from './api.js';
import { showCall } from './call.js';
import { showCalls, showSearch } from './calls.js';
import { showInsights } from './insights.js';
import { showLiveCall, showLiveCalls } from './live.js';
import { showUpload } from './upload.js';
import { errorBox } from './util.js';

const routes = [
  [/^\/calls\/([A-Za-z0-9-]+)$/, 'calls', showCall],
  [/^\/calls$/, 'calls', showCalls],
  [/^\/live\/([A-Za-z0-9-]+)$/, 'live', showLiveCall],
  [/^\/live$/, 'live', showLiveCalls],
  [/^\/upload$/, 'upload', showUpload],
  [/^\/search$/, 'search', showSearch],
  [/^\/insights$/, 'insights', showInsights],
];

const main = document.getElementById('main');
let teardown = null;
let rendering = 0;

function location_() {
  const raw = window.location.hash.replace(/^#/, '') || '/calls';
  const [path, query = ''] = raw.split('?');
  return { path, params: new URLSearchParams(query) };
}

async function render() {
  const { path, params } = location_();
  const found = routes.map(([pattern, nav, view]) => [pattern.exec(path), nav, view])
    .find(([match]) => match);
  if (!found) {
    window.location.replace('#/calls');
    return;
  }
  const [match, nav, view] = found;
  const ticket = ++rendering;
  teardown?.();
  teardown = null;
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const quick = document.getElementById('quick-search-q');
  quick.value = nav === 'search' ? params.get('q') || '' : quick.value;
  // Each view draws into a container of its own: one still loading when the user moves on
  // draws into a container that is no longer on the page.
  const view_ = document.createElement('div');
  view_.className = 'view';
  main.replaceChildren(view_);
  main.setAttribute('aria-busy', 'true');
  try {
    const done = await view(view_, params, ...match.slice(1));
    if (ticket === rendering) teardown = typeof done === 'function' ? done : null;
    else if (typeof done === 'function') done();
  } catch (error) {
    if (ticket === rendering) {
      main.replaceChildren(error.status === 401
        ? errorBox({ message: error.message, hint: 'Press “API key” and paste a key (callytics keys create) or a JWT.' },
          credentials() ? 'This API key or token was refused.' : 'This server asks for an API key.')
        : errorBox(error));
    }
  } finally {
    if (ticket === rendering) main.removeAttribute('aria-busy');
  }
}

function setUpCredentials() {
  const dialog = document.getElementById('key-dialog');
  const input = document.getElementById('key-input');
  const button = document.getElementById('key-button');
  const label = () => {
    button.textContent = credentials() ? 'API key ✓' : 'API key';
    button.setAttribute('aria-label', credentials() ? 'API key (set)' : 'API key (not set)');
  };
  const open = (reason) => {
    if (dialog.open) return;
    document.getElementById('key-dialog-reason').hidden = !reason;
    input.value = '';
    dialog.showModal();
    input.focus();
  };
  button.addEventListener('click', () => open(false));
  window.addEventListener('callytics:credentials-needed', () => open(true));
  document.getElementById('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setCredentials(input.value);
    dialog.close();
    label();
    render();
  });
  document.getElementById('key-forget').addEventListener('click', () => {
    setCredentials('');
    dialog.close();
    label();
  });
  document.getElementById('key-cancel').addEventListener('click', () => dialog.close());
  label();
}

document.getElementById('quick-search').addEventListener('submit', (event) => {
  event.preventDefault();
  const q = new FormData(event.target).get('q').trim();
  window.location.hash = q ? `#/search?q=${encodeURIComponent(q)}` : '#/search';
});

// The skip link moves focus to the content without touching the hash (the router's).
document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

setUpCredentials();
window.addEventListener('hashchange', render);
// A view that changed what it shows (a call analysed again) asks to be drawn anew.
window.addEventListener('callytics:rerender', render);
render();
