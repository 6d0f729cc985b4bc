// Messages as an inbox: one conversation per person (name and number), newest activity
// first, searchable and filtered; a conversation shows each message with its photo,
// processing and delivery status, and a reply box that sends through POST /messages/send.
// Live events (live.js) call refreshInbox, so new messages appear without Refresh.
import { api, query } from './api.js';
import { emptyState, h, renderPager, replace, statusBadge, timeElement } from './dom.js';
import { messageCard } from './messages.js';
import { loading, showError } from './ui.js';

const PAGE_SIZE = 30;
const THREAD_SIZE = 30;
// Twilio's error when a free-form WhatsApp message is sent outside the 24-hour window.
const WINDOW_CLOSED_CODES = new Set([63016]);

const state = { offset: 0, q: '', filter: '', open: null, sentId: null, wired: false };

const displayName = (c) => c.username ?? 'Unknown sender';

function conversationItem(section, c) {
  const selected = state.open === c.number;
  const flags = [
    c.failed_count > 0 ? statusBadge('failed', `${c.failed_count} failed`) : null,
    c.awaiting_review_count > 0
      ? statusBadge('pending', `${c.awaiting_review_count} awaiting review`)
      : null,
    c.opted_out ? statusBadge('opted_out', 'Opted out') : null,
  ];
  return h(
    'a',
    {
      href: `#messages`,
      class: `conversation${selected ? ' is-open' : ''}`,
      'aria-current': selected ? 'true' : null,
      dataset: { number: c.number },
      onClick: (event) => {
        event.preventDefault();
        void openThread(section, c.number);
      },
    },
    h(
      'span',
      { class: 'conversation-head' },
      h('strong', { class: 'conversation-name' }, displayName(c)),
      c.last_activity_at ? timeElement(c.last_activity_at) : null,
    ),
    h('span', { class: 'conversation-number token' }, c.number),
    h('span', { class: 'conversation-last muted' }, c.last_body || 'No messages from them yet.'),
    h('span', { class: 'conversation-flags' }, flags),
  );
}

/** What to do when there is nothing to show: how messages get here at all. */
function emptyInbox() {
  if (state.q || state.filter) {
    return emptyState('No conversation matches. Clear the search or choose “Everyone”.');
  }
  const webhook = `${window.location.origin}/webhook/twilio`;
  return h(
    'div',
    { class: 'empty inbox-empty' },
    h('p', {}, h('strong', {}, 'No conversations yet.'), ' Messages people send appear here live.'),
    h(
      'p',
      {},
      'In the Twilio console, set the WhatsApp sender’s “When a message comes in” URL to ',
      h('code', { class: 'token' }, webhook),
      ' (HTTP POST).',
    ),
    h(
      'p',
      {},
      'Or try it locally: ',
      h('code', { class: 'token' }, 'npx taskwire simulate --from +15551234567 "Done!"'),
    ),
  );
}

async function loadList(section) {
  const list = section.querySelector('[data-list]');
  const page = await api(
    `/conversations${query({ limit: PAGE_SIZE, offset: state.offset, q: state.q, filter: state.filter })}`,
  );
  replace(
    list,
    page.items.length === 0 ? emptyInbox() : page.items.map((c) => conversationItem(section, c)),
  );
  renderPager(
    section.querySelector('[data-pager]'),
    page,
    (next) => {
      state.offset = next;
      void refreshInbox(section);
    },
    'conversations',
  );
}

function outgoing(row) {
  const failed = row.status === 'failed' || row.status === 'undelivered';
  return h(
    'article',
    { class: `outgoing${failed ? ' is-failed' : ''}`, dataset: { outboundId: row.id } },
    h(
      'header',
      { class: 'message-head' },
      h('span', { class: 'reply-label' }, row.kind === 'send' ? 'You' : `Taskwire · ${row.kind}`),
      h(
        'span',
        { class: 'message-status' },
        statusBadge(row.status),
        ' ',
        timeElement(row.created_at),
      ),
    ),
    h('p', { class: 'message-body' }, row.body),
    row.error_code || row.error_message
      ? h(
          'p',
          { class: 'error-text' },
          `Twilio error ${row.error_code ?? ''}: ${row.error_message ?? ''}`.trim(),
        )
      : null,
  );
}

function windowHint(form, conversation) {
  const hint = form.querySelector('[data-reply-window]');
  const channel = form.querySelector('[name="channel"]');
  if (conversation.opted_out) {
    hint.textContent = 'They opted out (STOP): nothing is sent to them until they write START.';
  } else if (conversation.window_open) {
    hint.textContent = 'They wrote on WhatsApp in the last 24 hours: a WhatsApp reply is allowed.';
  } else {
    hint.textContent =
      'The 24-hour WhatsApp window is closed (they have not written in a day): WhatsApp only ' +
      'takes an approved template now, so this goes by SMS unless you choose otherwise.';
    if (form.dataset.number !== conversation.number) channel.value = 'sms';
  }
  if (form.dataset.number !== conversation.number && conversation.window_open)
    channel.value = 'whatsapp';
  form.dataset.number = conversation.number;
}

/** The outcome of the last reply sent from here, as its delivery status changes. */
function showOutcome(section, outbound) {
  const box = section.querySelector('[data-reply-outcome]');
  const sent = outbound.find((row) => row.id === state.sentId);
  if (!sent) return;
  box.replaceChildren();
  if (WINDOW_CLOSED_CODES.has(sent.error_code)) {
    box.dataset.state = 'failed';
    box.append(
      'WhatsApp refused it: the 24-hour window is closed. ',
      h(
        'button',
        {
          class: 'button small primary',
          type: 'button',
          onClick: () => void sendReply(section, { body: sent.body, channel: 'sms' }),
        },
        'Send it as an SMS',
      ),
      ' or wait for them to write (a Content template goes out with reminders).',
    );
    return;
  }
  const failed = sent.status === 'failed' || sent.status === 'undelivered';
  box.dataset.state = failed ? 'failed' : 'ok';
  box.append(
    failed
      ? `Not delivered: ${sent.error_message ?? sent.status}.`
      : `Reply ${sent.status === 'pending' || sent.status === 'submitting' ? 'queued' : sent.status}.`,
  );
}

async function loadThread(section) {
  const thread = section.querySelector('[data-thread]');
  if (!state.open) {
    thread.hidden = true;
    section.querySelector('[data-inbox]').classList.remove('has-thread');
    return;
  }
  const number = state.open;
  const [detail, inbound] = await Promise.all([
    api(`/conversations/${encodeURIComponent(number)}${query({ limit: THREAD_SIZE * 2 })}`),
    api(`/messages${query({ from_number: number, limit: THREAD_SIZE })}`),
  ]);
  if (state.open !== number) return;
  const { conversation, outbound } = detail;
  thread.hidden = false;
  section.querySelector('[data-inbox]').classList.add('has-thread');
  section.querySelector('#thread-title').textContent = displayName(conversation);
  section.querySelector('[data-thread-meta]').textContent =
    `${conversation.number}${conversation.opted_out ? ' · opted out' : ''}`;
  const repliesTo = new Map();
  const others = [];
  for (const row of outbound) {
    if (row.inbound_message_id !== null) {
      const list = repliesTo.get(row.inbound_message_id) ?? [];
      list.unshift(row);
      repliesTo.set(row.inbound_message_id, list);
    } else others.push(row);
  }
  const items = [
    ...inbound.items.map((m) => ({
      at: m.created_at,
      node: messageCard(m, repliesTo.get(m.id) ?? [], section),
    })),
    ...others.map((row) => ({ at: row.created_at, node: outgoing(row) })),
  ].sort((a, b) => new Date(a.at) - new Date(b.at));
  const box = section.querySelector('[data-thread-items]');
  replace(
    box,
    items.length === 0
      ? emptyState('Nothing yet between you. Write the first message below.')
      : items.map((item) => item.node),
  );
  box.scrollTop = box.scrollHeight;
  windowHint(section.querySelector('[data-reply]'), conversation);
  showOutcome(section, outbound);
}

async function openThread(section, number) {
  state.open = number;
  state.sentId = null;
  section.querySelector('[data-reply-outcome]').replaceChildren();
  for (const item of section.querySelectorAll('.conversation')) {
    const open = item.dataset.number === number;
    item.classList.toggle('is-open', open);
    if (open) item.setAttribute('aria-current', 'true');
    else item.removeAttribute('aria-current');
  }
  try {
    await loadThread(section);
  } catch (error) {
    showError(error);
  }
}

async function sendReply(section, { body, channel }) {
  const form = section.querySelector('[data-reply]');
  const box = section.querySelector('[data-reply-outcome]');
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const row = await api('/messages/send', {
      method: 'POST',
      body: { to: state.open, body, channel },
    });
    state.sentId = row.id;
    box.dataset.state = 'ok';
    box.textContent = `Reply queued (${channel === 'sms' ? 'SMS' : 'WhatsApp'}).`;
    form.querySelector('[name="body"]').value = '';
    await loadThread(section);
  } catch (error) {
    box.dataset.state = 'failed';
    box.textContent = `Not sent: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

function wire(section) {
  if (state.wired) return;
  state.wired = true;
  const tools = section.querySelector('[data-inbox-tools]');
  let typing = null;
  tools.addEventListener('submit', (event) => event.preventDefault());
  tools.querySelector('[name="q"]').addEventListener('input', (event) => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.q = event.target.value.trim();
      state.offset = 0;
      void refreshInbox(section);
    }, 250);
  });
  tools.querySelector('[name="filter"]').addEventListener('change', (event) => {
    state.filter = event.target.value;
    state.offset = 0;
    void refreshInbox(section);
  });
  section.querySelector('[data-reply]').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const body = form.querySelector('[name="body"]').value.trim();
    if (!body || !state.open) return;
    void sendReply(section, { body, channel: form.querySelector('[name="channel"]').value });
  });
  section.querySelector('[data-thread-back]').addEventListener('click', () => {
    state.open = null;
    void refreshInbox(section);
  });
}

/** Reloads the list and the open conversation (on load, Refresh and every live event). */
export async function refreshInbox(section) {
  wire(section);
  const list = section.querySelector('[data-list]');
  await loading(list, async () => {
    try {
      await Promise.all([loadList(section), loadThread(section)]);
    } catch (error) {
      showError(error);
    }
  });
}
