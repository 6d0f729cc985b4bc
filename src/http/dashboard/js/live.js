// Live updates: one EventSource on GET /events. EventSource cannot send the API token as a
// header, so it is traded for a short-lived stream token (POST /events/token). The browser
// reconnects by itself after a drop, sending Last-Event-ID; when it gives up (the server
// answered an error, e.g. the token expired while the server was away) a new token and a
// new EventSource resume from the last id seen (?last_event_id=).
import { api, query, token } from './api.js';

const KINDS = ['message', 'outbound', 'task', 'post', 'review', 'user'];
const RETRY_MS = 2_000;
const DEBOUNCE_MS = 150;

let source = null;
let lastId = null;
let retryTimer = null;
let changeTimer = null;
const pendingKinds = new Set();
let onChange = () => {};

function setStatus(state) {
  const box = document.getElementById('live-status');
  if (!box) return;
  box.hidden = false;
  box.dataset.state = state;
  box.querySelector('.live-text').textContent = state === 'on' ? 'Live' : 'Reconnecting…';
  box.title =
    state === 'on'
      ? 'Changes appear as they happen.'
      : 'The live connection dropped; reconnecting. Refresh still works.';
}

function changed(event) {
  lastId = event.lastEventId || lastId;
  pendingKinds.add(event.type);
  // Several changes in one transaction (a reply, a task, a post) refresh once.
  clearTimeout(changeTimer);
  changeTimer = setTimeout(() => {
    const kinds = new Set(pendingKinds);
    pendingKinds.clear();
    onChange(kinds);
  }, DEBOUNCE_MS);
}

async function connect() {
  clearTimeout(retryTimer);
  if (!started || !token.get()) return;
  let streamToken;
  try {
    streamToken = (await api('/events/token', { method: 'POST' })).token;
  } catch {
    setStatus('off');
    retryTimer = setTimeout(connect, RETRY_MS);
    return;
  }
  source?.close();
  source = new EventSource(`/events${query({ token: streamToken, last_event_id: lastId })}`);
  source.addEventListener('open', () => setStatus('on'));
  for (const kind of KINDS) source.addEventListener(kind, changed);
  source.addEventListener('error', () => {
    setStatus('off');
    // CONNECTING: the browser retries with Last-Event-ID itself. CLOSED: it gave up.
    if (source.readyState === EventSource.CLOSED) {
      source = null;
      retryTimer = setTimeout(connect, RETRY_MS);
    }
  });
}

let started = false;

/** Opens the stream (once); `handler(kinds)` runs after changes of those kinds. */
export function startLive(handler) {
  onChange = handler;
  if (started) return;
  started = true;
  void connect();
}

export function stopLive() {
  started = false;
  clearTimeout(retryTimer);
  source?.close();
  source = null;
  const box = document.getElementById('live-status');
  if (box) box.hidden = true;
}
