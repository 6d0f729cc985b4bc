// The dashboard's entry point: asks for the API token once, then shows one section at a
// time (#feed, #leaderboard, #people, #messages, #groups, #reviews) from the same JSON API as
// everyone else.
import { onUnauthorized, token } from './api.js';
import { loadFeed } from './feed.js';
import { loadGroups } from './groups.js';
import { loadLeaderboard } from './leaderboard.js';
import { refreshInbox } from './inbox.js';
import { startLive, stopLive } from './live.js';
import { enhancePeople } from './people-edit.js';
import { loadPeople } from './people.js';
import { loadReviews } from './reviews.js';
import { clearError } from './ui.js';

const views = {
  feed: loadFeed,
  leaderboard: loadLeaderboard,
  people: async (section, options) => {
    enhancePeople(section, () => loadPeople(section));
    await loadPeople(section, options);
  },
  messages: refreshInbox,
  groups: (section) => loadGroups(section),
  reviews: loadReviews,
};
/** Lists that refresh themselves while visible; the others have forms that must not jump. */
const AUTO_REFRESH = new Set(['feed', 'leaderboard', 'reviews']);
const AUTO_REFRESH_MS = 30_000;

const byId = (id) => document.getElementById(id);
const currentView = () => {
  const name = window.location.hash.slice(1);
  return Object.hasOwn(views, name) ? name : 'feed';
};

/** Which views a live change of each kind can alter. */
const LIVE_VIEWS = {
  feed: ['post', 'review', 'user'],
  leaderboard: ['post', 'task', 'review', 'user'],
  messages: ['message', 'outbound', 'task', 'review', 'user'],
  people: ['task', 'user'],
  groups: ['post', 'task', 'review', 'user'],
  reviews: ['review', 'post', 'task', 'user'],
};

/** Views with forms: a live change or the timer does not reload one while it has the focus. */
const FORM_VIEWS = new Set(['people', 'groups']);
/** Someone is typing in the view (a reason to reject): a reload would lose it. */
const typingIn = (section) =>
  section.contains(document.activeElement) &&
  document.activeElement.matches('input, textarea, select');

/** A live change: the visible view reloads if it shows that kind (not under the typing hand). */
function liveChange(kinds) {
  const name = currentView();
  if (!token.get() || !LIVE_VIEWS[name]?.some((kind) => kinds.has(kind))) return;
  const section = byId(name);
  if (FORM_VIEWS.has(name) && section.contains(document.activeElement)) return;
  if (typingIn(section)) return;
  void views[name](section, { background: true });
}

function showTokenForm(reason) {
  stopLive();
  for (const name of Object.keys(views)) byId(name).hidden = true;
  byId('nav').hidden = true;
  byId('change-token').hidden = true;
  clearError();
  const reasonBox = byId('token-reason');
  reasonBox.textContent = reason ?? '';
  reasonBox.hidden = !reason;
  byId('token-view').hidden = false;
  const input = byId('token-input');
  input.value = '';
  input.setAttribute('aria-invalid', reason ? 'true' : 'false');
  input.focus();
}

async function showView(name = currentView()) {
  if (!token.get()) {
    showTokenForm();
    return;
  }
  byId('token-view').hidden = true;
  byId('nav').hidden = false;
  byId('change-token').hidden = false;
  startLive(liveChange);
  clearError();
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.tab === name) {
      link.setAttribute('aria-current', 'page');
      // On a phone the one-row tabs scroll sideways: keep the current one in sight.
      link.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    } else link.removeAttribute('aria-current');
  }
  for (const other of Object.keys(views)) byId(other).hidden = other !== name;
  const section = byId(name);
  document.title = `${section.querySelector('h1').textContent} · Taskwire`;
  await views[name](section);
}

onUnauthorized((error) => {
  token.clear();
  showTokenForm(`The API token was refused: ${error.message} Enter it again.`);
});

byId('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = byId('token-input').value.trim();
  if (!value) return;
  token.set(value);
  void showView();
});

byId('change-token').addEventListener('click', () => {
  token.clear();
  showTokenForm();
});

for (const button of document.querySelectorAll('[data-refresh]')) {
  button.addEventListener('click', () => void showView());
}

window.addEventListener('hashchange', () => {
  void showView();
  byId('main').focus({ preventScroll: true });
});

setInterval(() => {
  const name = currentView();
  if (
    document.visibilityState === 'visible' &&
    token.get() &&
    AUTO_REFRESH.has(name) &&
    !typingIn(byId(name))
  ) {
    void views[name](byId(name));
  }
}, AUTO_REFRESH_MS);

void showView();
