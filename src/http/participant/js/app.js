// The participant app: one page, a tab per hash (#today, #feed, #leaderboards, #me).
import { ApiError, api } from './api.js';
import { h, replace, when } from './dom.js';

const view = document.getElementById('view');
const alertBox = document.getElementById('alert');
const tabs = document.getElementById('tabs');
const title = document.getElementById('page-title');

const titles = {
  today: 'Today',
  feed: 'Feed',
  leaderboards: 'Leaderboards',
  reviews: 'Reviews',
  me: 'Me',
};
let period = 'week';

function showError(error) {
  alertBox.textContent = error instanceof Error ? error.message : String(error);
  alertBox.hidden = false;
}

function signedOut() {
  stopListening();
  tabs.hidden = true;
  title.textContent = 'Taskwire';
  replace(
    view,
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Sign in'),
      h('p', {}, 'Send ', h('strong', {}, 'link'), ' to Taskwire on WhatsApp.'),
      h('p', {}, 'You get a sign-in link that works once, for 15 minutes.'),
    ),
  );
}

async function today() {
  const data = await api('/today');
  const zone = data.time_zone;
  const form = h(
    'form',
    { class: 'card add', onSubmit: (event) => addPhrase(event, form) },
    h('label', { for: 'phrase' }, 'Add a task or habit, as on WhatsApp'),
    h('input', {
      id: 'phrase',
      name: 'text',
      required: true,
      autocomplete: 'off',
      placeholder: 'new Run 5k tomorrow 7am',
    }),
    h(
      'p',
      { class: 'hint' },
      'e.g. “new Call mom in 2 hours”, “habit Gym every mon wed fri at 7am”',
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Add'),
    h('p', { class: 'reply', role: 'status' }),
  );
  replace(
    view,
    h('p', { class: 'points' }, h('strong', {}, String(data.points)), ' points'),
    form,
    h('h2', {}, 'Due'),
    data.tasks.length === 0
      ? h('p', { class: 'empty' }, 'Nothing due. Add a task above.')
      : h(
          'ul',
          { class: 'list' },
          data.tasks.map((task) =>
            h(
              'li',
              { class: 'item' },
              h('span', { class: 'what' }, task.description),
              h(
                'span',
                { class: 'meta' },
                task.status === 'pending_review' ? 'waiting for review' : when(task.due_time, zone),
                ` · ${task.points} pts`,
              ),
            ),
          ),
        ),
    h('h2', {}, 'Habits'),
    data.habits.length === 0
      ? h('p', { class: 'empty' }, 'No habits yet: try “habit Read every day at 9pm”.')
      : h(
          'ul',
          { class: 'list' },
          data.habits.map((habit) =>
            h(
              'li',
              { class: 'item' },
              h('span', { class: 'what' }, habit.description),
              h(
                'span',
                { class: 'meta' },
                `${habit.schedule_text} · streak ${habit.current_streak} (best ${habit.best_streak})`,
              ),
            ),
          ),
        ),
  );
}

async function addPhrase(event, form) {
  event.preventDefault();
  const input = form.querySelector('input');
  const out = form.querySelector('.reply');
  try {
    const { reply } = await api('/phrases', { method: 'POST', body: { text: input.value } });
    await today();
    const fresh = view.querySelector('.add .reply');
    if (fresh) fresh.textContent = reply;
  } catch (error) {
    out.textContent = error.message;
  }
}

async function feed() {
  const { items } = await api('/feed');
  replace(
    view,
    items.length === 0
      ? h('p', { class: 'empty' }, 'No photos yet. Send a photo of a finished task on WhatsApp.')
      : h(
          'ul',
          { class: 'feed' },
          items.map((post) =>
            h(
              'li',
              { class: 'post card' },
              post.image_url
                ? h('img', {
                    src: post.image_url,
                    alt: `Proof by ${post.username}`,
                    loading: 'lazy',
                  })
                : null,
              h(
                'p',
                { class: 'who' },
                h('strong', {}, post.username),
                post.streak > 0 ? ` · 🔥 ${post.streak}` : '',
              ),
              post.what ? h('p', { class: 'what' }, post.what) : null,
              h('p', { class: 'meta' }, `${post.group_name} · ${when(post.created_at)}`),
            ),
          ),
        ),
  );
}

async function leaderboards() {
  const data = await api(`/leaderboards?period=${period}`);
  const switcher = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Period' },
    [
      ['week', 'Week'],
      ['month', 'Month'],
      ['all', 'All time'],
    ].map(([value, label]) =>
      h(
        'button',
        {
          type: 'button',
          'aria-pressed': String(value === period),
          onClick: () => {
            period = value;
            void render();
          },
        },
        label,
      ),
    ),
  );
  replace(
    view,
    switcher,
    data.groups.length === 0 ? h('p', { class: 'empty' }, 'You are in no group yet.') : null,
    data.groups.map((group) =>
      h(
        'section',
        { class: 'card' },
        h('h2', {}, group.group_name),
        group.items.length === 0
          ? h('p', { class: 'empty' }, 'No points yet in this period.')
          : h(
              'ol',
              { class: 'board' },
              group.items.map((row) =>
                h(
                  'li',
                  { class: row.me ? 'me' : '' },
                  h('span', { class: 'rank' }, String(row.rank)),
                  h('span', { class: 'name' }, row.username),
                  h('span', { class: 'pts' }, `${row.points} pts`),
                ),
              ),
            ),
      ),
    ),
  );
}

async function me() {
  const data = await api('/me');
  const action = (label, run, className = '') =>
    h(
      'button',
      {
        type: 'button',
        class: className,
        onClick: async () => {
          try {
            await run();
          } catch (error) {
            showError(error);
          }
        },
      },
      label,
    );
  const phrase = async (text) => {
    const { reply } = await api('/phrases', { method: 'POST', body: { text } });
    await me();
    view.querySelector('.me-reply').textContent = reply;
  };
  const zoneInput = h('input', {
    id: 'zone',
    value: data.timezone ?? '',
    placeholder: data.zone_in_effect,
    autocomplete: 'off',
  });
  replace(
    view,
    h(
      'section',
      { class: 'card' },
      h('h2', {}, data.username),
      h('p', {}, `${data.points} points · time zone ${data.zone_in_effect}`),
      data.pause ? h('p', {}, `Paused until ${data.pause.last_day}`) : null,
      h('p', { class: 'me-reply', role: 'status' }),
    ),
    h(
      'section',
      { class: 'card stack' },
      h('label', { for: 'zone' }, 'Time zone (a city or a zone)'),
      zoneInput,
      action('Save time zone', () => phrase(`tz ${zoneInput.value}`)),
      data.pause
        ? action('Resume reminders', () => phrase('resume'))
        : action('Pause for today', () => phrase('pause 1 day')),
      action(data.opted_out ? 'Receive messages again' : 'Stop all messages', async () => {
        await api('/me', { method: 'PATCH', body: { opted_out: !data.opted_out } });
        await me();
      }),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Sharing'),
      h(
        'label',
        { class: 'check' },
        h('input', {
          type: 'checkbox',
          checked: data.share_proofs,
          'aria-describedby': 'sharing-hint',
          onChange: async (event) => {
            try {
              await api('/me', { method: 'PATCH', body: { share_proofs: event.target.checked } });
              await me();
            } catch (error) {
              showError(error);
            }
          },
        }),
        'Share my proofs with my groups',
      ),
      h(
        'p',
        { id: 'sharing-hint', class: 'hint' },
        data.share_proofs
          ? 'Your groups see your photos in their feed and hear of them on WhatsApp.'
          : 'Your proofs stay with you: your groups neither see them in the feed nor hear of them. A group that reviews proofs still shows them to the reviewers.',
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Groups'),
      h(
        'ul',
        { class: 'list' },
        data.groups.map((group) =>
          h(
            'li',
            { class: 'item row' },
            h('span', { class: 'what' }, group.name),
            action('Leave', async () => {
              if (!confirm(`Leave ${group.name}?`)) return;
              await api(`/groups/${group.id}/leave`, { method: 'POST' });
              await me();
            }),
          ),
        ),
      ),
    ),
    h(
      'section',
      { class: 'card stack' },
      h('h2', {}, 'Your data'),
      h(
        'a',
        { class: 'button', href: '/app/api/export', download: 'taskwire-export.json' },
        'Export my data',
      ),
      action('Sign out', async () => {
        await fetch('/app/logout', { method: 'POST', credentials: 'same-origin' });
        signedOut();
      }),
      action(
        'Delete my account',
        async () => {
          if (!confirm('Delete your account, messages, tasks and photos for good?')) return;
          await api('/me', { method: 'DELETE' });
          stopListening();
          replace(
            view,
            h(
              'section',
              { class: 'card' },
              h('h2', {}, 'Account deleted'),
              h('p', {}, 'Everything of yours is gone.'),
            ),
          );
          tabs.hidden = true;
        },
        'danger',
      ),
    ),
  );
}

async function reviews() {
  const { items } = await api('/reviews');
  const decide = async (item, approve, card) => {
    const reason = approve ? undefined : card.querySelector('input').value.trim();
    const out = card.querySelector('.reply');
    if (!approve && !reason) {
      out.textContent = 'Say why you reject it: they are told the reason.';
      card.querySelector('input').focus();
      return;
    }
    try {
      const { reply } = await api(`/reviews/${item.id}`, {
        method: 'POST',
        body: approve ? { approve } : { approve, reason },
      });
      await reviews();
      view.prepend(h('p', { class: 'reply', role: 'status' }, reply));
    } catch (error) {
      out.textContent = error.message;
    }
  };
  replace(
    view,
    items.length === 0
      ? h(
          'p',
          { class: 'empty' },
          'No proofs waiting for you. When a member of a reviewing group sends one, it appears here.',
        )
      : h(
          'ul',
          { class: 'feed' },
          items.map((item) => {
            const reasonId = `reason-${item.id}`;
            const card = h(
              'li',
              { class: 'post card' },
              item.image_url
                ? h('img', { src: item.image_url, alt: `Proof by ${item.username}` })
                : null,
              h(
                'p',
                { class: 'who' },
                h('strong', {}, item.username),
                item.group_name ? ` · ${item.group_name}` : '',
              ),
              item.what ? h('p', { class: 'what' }, item.what) : null,
              h('label', { for: reasonId }, 'Reason, if you reject it'),
              h('input', { id: reasonId, autocomplete: 'off' }),
              h(
                'div',
                { class: 'segmented' },
                h(
                  'button',
                  { type: 'button', class: 'approve', onClick: () => decide(item, true, card) },
                  'Approve',
                ),
                h(
                  'button',
                  { type: 'button', class: 'danger', onClick: () => decide(item, false, card) },
                  'Reject',
                ),
              ),
              h('p', { class: 'reply', role: 'status' }),
            );
            return card;
          }),
        ),
  );
}

const pages = { today, feed, leaderboards, reviews, me };

async function render() {
  const tab = location.hash.slice(1) in pages ? location.hash.slice(1) : 'today';
  alertBox.hidden = true;
  title.textContent = titles[tab];
  for (const link of tabs.querySelectorAll('a')) {
    if (link.dataset.tab === tab) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  try {
    await pages[tab]();
    tabs.hidden = false;
    listen();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signedOut();
    else showError(error);
  }
}

// Live: the session's own stream (/app/api/events) says which rows changed; the page on
// show reads them again. EventSource reconnects by itself, sending Last-Event-ID, so a
// dropped connection resumes without a reload.
let source = null;
let refreshTimer = null;
function listen() {
  if (source || typeof EventSource === 'undefined') return;
  source = new EventSource('/app/api/events');
  const refresh = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      const tab = location.hash.slice(1) || 'today';
      // Someone typing (focus in a field, or words left in one) keeps the page as it is;
      // an empty field without a placeholder is not typing (":placeholder-shown" would
      // count it, and a review card's empty reason box froze the Reviews page).
      const typing =
        document.activeElement?.tagName === 'INPUT' ||
        [...view.querySelectorAll('input:not([type=checkbox]):not([type=radio])')].some(
          (input) => input.value.trim() !== '',
        );
      if (tab !== 'me' && !typing) void render();
    }, 250);
  };
  for (const kind of ['post', 'task', 'review', 'user', 'outbound', 'message']) {
    source.addEventListener(kind, refresh);
  }
}
function stopListening() {
  source?.close();
  source = null;
}

window.addEventListener('hashchange', () => void render());
void render();
