// The page's client of the Callytics API: REST under /v1 and the GraphQL subscription, with
// the user's API key (or JWT) when the server asks for one. The key lives in sessionStorage:
// this tab only, gone when it closes.

const KEY = 'callytics.credentials';

export class ApiError extends Error {
  constructor(status, code, message, hint) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

export function credentials() {
  return sessionStorage.getItem(KEY) || '';
}

export function setCredentials(value) {
  if (value) sessionStorage.setItem(KEY, value.trim());
  else sessionStorage.removeItem(KEY);
}

function authHeaders() {
  const key = credentials();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** The API's error body ({error: {code, message, hint}}) as an ApiError. */
async function failure(response) {
  let detail = {};
  try {
    detail = (await response.json()).error || {};
  } catch {
    // not JSON: a proxy's page, say
  }
  const error = new ApiError(
    response.status,
    detail.code || `http_${response.status}`,
    detail.message || `The server answered ${response.status} ${response.statusText}.`,
    detail.hint || '',
  );
  if (response.status === 401) {
    window.dispatchEvent(new CustomEvent('callytics:credentials-needed', { detail: error }));
  }
  return error;
}

async function request(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Accept: 'application/json', ...authHeaders(), ...(options.headers || {}) },
  });
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getJSON(path, params) {
  const query = params ? `?${new URLSearchParams(params)}` : '';
  return (await request(`${path}${query}`)).json();
}

/** POST or DELETE without a body: the JSON answer, or null for 204. */
export async function send(method, path) {
  const response = await request(path, { method });
  return response.status === 204 ? null : response.json();
}

/** GET ``path`` into a blob: URL (audio for the player: an <audio> element cannot send a key). */
export async function blobURL(path) {
  const response = await request(path, { headers: { Accept: '*/*' } });
  return URL.createObjectURL(await response.blob());
}

/** Save what ``path`` answers as a file, under the name the server gives it. */
export async function download(path, fallbackName) {
  const response = await request(path, { headers: { Accept: '*/*' } });
  const disposition = response.headers.get('Content-Disposition') || '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

/**
 * POST a multipart form, reporting the upload's progress (fetch cannot): resolves with the
 * JSON answer, rejects with an ApiError carrying the server's message and hint.
 */
export function postForm(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded / event.total);
    });
    xhr.addEventListener('load', async () => {
      const response = new Response(xhr.responseText, {
        status: xhr.status,
        statusText: xhr.statusText,
        headers: { 'Content-Type': xhr.getResponseHeader('Content-Type') || 'text/plain' },
      });
      if (xhr.status >= 200 && xhr.status < 300) resolve(await response.json());
      else reject(await failure(response));
    });
    xhr.addEventListener('error', () => reject(new ApiError(
      0, 'network', 'The upload did not reach the server.', 'Check that Callytics is running.',
    )));
    xhr.send(form);
  });
}

/**
 * A GraphQL query over HTTP (POST /graphql): its ``data``, or an ApiError carrying the first
 * error's message, code and hint (a 401 asks for credentials, as REST's does).
 */
export async function graphql(query, variables = {}) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', ...authHeaders() },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError(0, 'network', 'The request did not reach the server.', 'Check that Callytics is running.');
  }
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy's page, say
  }
  const first = body.errors?.[0];
  if (!response.ok || first) {
    const error = new ApiError(
      response.status,
      first?.extensions?.code || `http_${response.status}`,
      first?.message || `The server answered ${response.status} ${response.statusText}.`,
      first?.extensions?.hint || '',
    );
    if (response.status === 401) {
      window.dispatchEvent(new CustomEvent('callytics:credentials-needed', { detail: error }));
    }
    throw error;
  }
  return body.data;
}

const PROGRESS = `subscription Progress($jobId: ID!) {
  jobProgress(jobId: $jobId) { seq stage progress status message }
}`;

/** Follow a job's events (jobProgress) until it ends: ``handlers`` as for subscribe, with
 * ``event({stage, progress, status, message})`` for each one, status in lower case. */
export function watchJob(jobId, handlers) {
  return subscribe(PROGRESS, { jobId }, {
    ...handlers,
    next: ({ jobProgress }) => handlers.event({ ...jobProgress, status: jobProgress.status.toLowerCase() }),
  });
}

/**
 * A GraphQL subscription over graphql-transport-ws. ``handlers``: next(data), error(ApiError),
 * complete(). Returns a function that stops it.
 */
export function subscribe(query, variables, handlers) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${location.host}/graphql`, 'graphql-transport-ws');
  let finished = false;
  const finish = (callback) => {
    if (finished) return;
    finished = true;
    callback();
    if (socket.readyState <= WebSocket.OPEN) socket.close(1000);
  };
  socket.addEventListener('open', () => {
    const key = credentials();
    socket.send(JSON.stringify({
      type: 'connection_init',
      payload: key ? { Authorization: `Bearer ${key}` } : {},
    }));
  });
  socket.addEventListener('message', (message) => {
    const event = JSON.parse(message.data);
    if (event.type === 'connection_ack') {
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
    } else if (event.type === 'ping') {
      socket.send(JSON.stringify({ type: 'pong' }));
    } else if (event.type === 'next') {
      if (event.payload.errors?.length) {
        const first = event.payload.errors[0];
        finish(() => handlers.error?.(new ApiError(
          200, first.extensions?.code || 'graphql', first.message, first.extensions?.hint || '',
        )));
      } else {
        handlers.next?.(event.payload.data);
      }
    } else if (event.type === 'error') {
      const first = event.payload?.[0] || {};
      finish(() => handlers.error?.(new ApiError(
        200, first.extensions?.code || 'graphql', first.message || 'Subscription refused.', '',
      )));
    } else if (event.type === 'complete') {
      finish(() => handlers.complete?.());
    }
  });
  socket.addEventListener('close', (event) => {
    const reason = event.code === 4403 || event.code === 4401
      ? new ApiError(401, 'unauthenticated', event.reason || 'The server wants credentials.',
        'Set an API key with the API key button.')
      : new ApiError(0, 'disconnected', 'The live progress connection closed.',
        'Reload the page to follow the job again; it carries on on the server.');
    finish(() => handlers.error?.(reason));
  });
  return () => finish(() => {});
}
