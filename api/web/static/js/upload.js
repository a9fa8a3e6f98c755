// Upload: drop (or choose) recordings; each becomes a job whose stages advance live, driven
// by the GraphQL jobProgress subscription. The list outlives the view: leave for a call and
// come back, and the jobs are still there, still moving. Jobs in progress that this tab did
// not start (another tab, the API, a script) join the list when the view opens.

import { getJSON, postForm, watchJob } from './api.js';
import { announce, errorBox, h, heading } from './util.js';

// The pipeline's stages in the order they run, from the registry (core/stages.py).
import { STAGES } from '/ui/stages.js';

export { STAGES };

const uploads = h('ol', { class: 'uploads', id: 'uploads', 'aria-label': 'Uploads' });

export async function showUpload(main) {
  const input = h('input', {
    type: 'file', id: 'upload-files', name: 'files', multiple: true,
    accept: 'audio/*,video/*,.wav,.mp3,.flac,.ogg,.opus,.m4a,.aac,.webm,.amr,.wma,.aiff,.mp4',
  });
  const zone = h('div', { class: 'dropzone', id: 'dropzone' },
    h('p', {}, 'Drop call recordings here'),
    h('p', {}, input, h('label', { for: 'upload-files', class: 'button' }, 'or choose files')),
    h('p', { class: 'hint' }, 'WAV, MP3, FLAC, Ogg, M4A and other audio; video files give their audio track. ',
      'A stereo recording can carry the agent on one channel and the customer on the other.'));
  const options = optionsForm();

  input.addEventListener('change', () => {
    startAll([...input.files], options);
    input.value = '';
  });
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add('dragging');
    });
  }
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    startAll([...(event.dataTransfer?.files || [])], options);
  });

  document.title = 'Upload · Callytics';
  main.append(
    heading('Upload calls'),
    options,
    zone,
    h('h2', {}, 'Jobs'),
    uploads.childElementCount ? null : h('p', { class: 'empty', id: 'no-uploads' }, 'Nothing uploaded yet in this tab.'),
    uploads,
  );
  main.querySelector('h1').focus();
  try {
    await adoptRunning();
  } catch (error) {
    // The page still takes uploads; a 401 has already asked for a key.
    if (error.status !== 401) main.append(errorBox(error, 'Jobs started elsewhere could not be listed:'));
  }
}

/** List the server's queued and running jobs that are not in this tab's list yet. */
async function adoptRunning() {
  const query = new URLSearchParams([['status', 'queued'], ['status', 'running'], ['limit', '50']]);
  const { items } = await getJSON('/v1/jobs', query);
  for (const job of items.reverse()) { // oldest first: the newest ends on top
    if (uploads.querySelector(`[data-job="${job.id}"]`)) continue;
    document.getElementById('no-uploads')?.remove();
    const item = new UploadItem(job.filename, job.kind === 'reanalyze' ? 'analysed again, started elsewhere' : 'started elsewhere');
    uploads.prepend(item.el);
    item.accepted({ call_id: job.call_id, job_id: job.id });
  }
}

function optionsForm() {
  const form = h('form', { class: 'options', id: 'upload-options', 'aria-label': 'Analysis options' },
    h('div', { class: 'field' },
      h('label', { for: 'opt-agent' }, 'Agent'),
      h('input', { id: 'opt-agent', name: 'agent', maxlength: '100', autocomplete: 'off', 'aria-describedby': 'opt-agent-hint' }),
      h('small', { id: 'opt-agent-hint' }, 'Who handled the call, for the agent views.')),
    h('div', { class: 'field' },
      h('label', { for: 'opt-team' }, 'Team'),
      h('input', { id: 'opt-team', name: 'team', maxlength: '200', autocomplete: 'off' })),
    h('div', { class: 'field' },
      h('label', { for: 'opt-external-id' }, 'External call id'),
      h('input', { id: 'opt-external-id', name: 'external_id', maxlength: '200', autocomplete: 'off', 'aria-describedby': 'opt-external-id-hint' }),
      h('small', { id: 'opt-external-id-hint' }, 'The call\'s id in your phone system (one recording): it is analysed once.')),
    h('div', { class: 'field' },
      h('label', { for: 'opt-channel' }, 'Agent channel (stereo)'),
      h('select', { id: 'opt-channel', name: 'agent_channel' },
        h('option', { value: '' }, 'Server default'),
        h('option', { value: '0' }, 'Left (0)'),
        h('option', { value: '1' }, 'Right (1)'))),
    h('div', { class: 'field' },
      h('label', { for: 'opt-language' }, 'Language'),
      h('input', { id: 'opt-language', name: 'language', placeholder: 'detect', pattern: '[a-z]{2,3}', maxlength: '3', size: '6', 'aria-describedby': 'opt-language-hint' }),
      h('small', { id: 'opt-language-hint' }, 'ISO code such as en; empty: detected.')),
    h('div', { class: 'field checkbox' },
      h('input', { id: 'opt-redact', name: 'redact_pii', type: 'checkbox' }),
      h('label', { for: 'opt-redact' }, 'Redact personal data (card numbers, phone numbers, names…)')),
    h('div', { class: 'field checkbox' },
      h('input', { id: 'opt-force', name: 'force', type: 'checkbox' }),
      h('label', { for: 'opt-force' }, 'Analyse again a recording (or external id) analysed before')));
  form.addEventListener('submit', (event) => event.preventDefault());
  return form;
}

function startAll(files, options) {
  if (!files.length) return;
  document.getElementById('no-uploads')?.remove();
  const fields = new FormData(options);
  for (const file of files) start(file, fields);
  announce(`${files.length} upload${files.length > 1 ? 's' : ''} started.`);
}

function start(file, fields) {
  const form = new FormData();
  form.append('file', file, file.name);
  for (const name of ['agent', 'agent_channel', 'language']) {
    const value = (fields.get(name) || '').trim();
    if (value) form.append(name, value);
  }
  if (fields.get('redact_pii')) form.append('redact_pii', 'true');
  if (fields.get('force')) form.append('force', 'true');
  const metadata = {};
  for (const name of ['team', 'external_id']) {
    const value = (fields.get(name) || '').trim();
    if (value) metadata[name] = value;
  }
  if (Object.keys(metadata).length) form.append('metadata', JSON.stringify(metadata));

  const item = new UploadItem(file.name);
  uploads.prepend(item.el);
  postForm('/v1/calls', form, (fraction) => item.uploading(fraction))
    .then((accepted) => item.accepted(accepted))
    .catch((error) => item.refused(error));
}

class UploadItem {
  constructor(filename, origin = '') {
    this.filename = filename;
    this.bar = h('progress', { max: '1', value: '0', 'aria-label': `Uploading ${filename}` });
    this.state = h('span', { class: 'job-state' }, 'uploading');
    this.message = h('p', { class: 'job-message' });
    this.stages = new Map(STAGES.map(([id, label]) => [id, stageRow(id, label)]));
    this.stageList = h('ol', { class: 'stages', 'aria-label': `Stages of ${filename}` },
      [...this.stages.values()].map((row) => row.el));
    this.link = h('p', { class: 'job-link' });
    this.el = h('li', { class: 'upload', dataset: { status: 'uploading' } },
      h('div', { class: 'upload-head' }, h('strong', { class: 'filename' }, filename), ' ', this.state,
        origin ? h('span', { class: 'origin muted' }, origin) : null),
      this.bar, this.stageList, this.message, this.link);
  }

  setStatus(status, text = status) {
    this.el.dataset.status = status;
    this.state.textContent = text;
  }

  uploading(fraction) {
    this.bar.value = fraction;
  }

  refused(error) {
    this.bar.remove();
    this.stageList.remove();
    this.setStatus('refused', 'refused');
    this.message.replaceWith(errorBox(error, `${this.filename} was not accepted:`));
    announce(`${this.filename} was not accepted: ${error.message}`);
  }

  accepted({ call_id: callId, job_id: jobId, duplicate }) {
    this.bar.value = 1;
    this.bar.remove();
    if (duplicate) {
      // Nothing was queued: the same recording or external id was analysed (or is being
      // analysed) already; follow that job instead.
      this.el.dataset.duplicate = 'true';
      this.el.querySelector('.upload-head').append(h('span', { class: 'origin muted' },
        'already analysed: nothing queued'));
      announce(`${this.filename} was analysed before; showing that analysis.`);
    }
    this.el.dataset.job = jobId;
    this.el.dataset.call = callId;
    this.callId = callId;
    this.setStatus('queued');
    watchJob(jobId, {
      event: (event) => this.event(event),
      error: (error) => {
        if (!['succeeded', 'failed'].includes(this.el.dataset.status)) {
          this.message.replaceChildren(errorBox(error, 'Live progress stopped:'));
        }
      },
    });
  }

  event({ stage, progress, status, message }) {
    const row = this.stages.get(stage);
    if (row) {
      row.set(progress >= 1 ? (message === 'failed' ? 'failed' : 'done') : 'running', progress);
    }
    if (status === 'running' || status === 'queued') {
      this.setStatus(status, row ? `${status}: ${row.label}` : status);
      this.message.textContent = message;
    } else if (status === 'succeeded') {
      for (const other of this.stages.values()) {
        if (other.el.dataset.state !== 'failed') other.set('done', 1);
      }
      this.setStatus('succeeded', 'done');
      this.message.textContent = '';
      this.link.replaceChildren(h('a', { href: `#/calls/${this.callId}`, class: 'open-call' },
        `Open ${this.filename}`));
      announce(`${this.filename} is analysed.`);
    } else if (status === 'failed') {
      for (const other of this.stages.values()) {
        if (other.el.dataset.state === 'running') other.set('failed', other.bar.value);
      }
      this.setStatus('failed', 'failed');
      this.message.replaceChildren(errorBox({ message }, 'The analysis failed:'));
      announce(`${this.filename} failed: ${message}`);
    }
  }
}

function stageRow(id, label) {
  const bar = h('progress', { max: '1', value: '0', 'aria-label': label });
  const state = h('span', { class: 'stage-state' }, 'waiting');
  const el = h('li', { class: 'stage', dataset: { stage: id, state: 'pending' } },
    h('span', { class: 'stage-name' }, label), bar, state);
  return {
    el,
    bar,
    label,
    set(newState, progress) {
      el.dataset.state = newState;
      bar.value = Math.max(bar.value, progress);
      state.textContent = newState === 'running' ? `${Math.round(progress * 100)}%` : newState;
    },
  };
}
