import { api, query } from './api.js';
import { emptyState, h, renderPager, replace, safeUrl, statusBadge, timeElement } from './dom.js';
import { loading, notify, showError, withBusy } from './ui.js';

const PAGE_SIZE = 10;
const POLL_MS = 1500;
const POLL_LIMIT = 40;
let offset = 0;

const sender = (from) => from.replace(/^whatsapp:/, '');
const channel = (from) => (from.startsWith('whatsapp:') ? 'WhatsApp' : 'SMS');

function thumbnails(message) {
  const errors = message.storage_url_errors ?? [];
  const items = message.storage_urls.map((url, index) => ({
    url: safeUrl(url),
    error: errors[index] ?? null,
    index,
  }));
  if (items.length === 0) return null;
  return h(
    'div',
    { class: 'thumbs' },
    items.map(({ url, error, index }) =>
      url
        ? h(
            'a',
            { href: url, target: '_blank', rel: 'noopener', class: 'thumb' },
            h('img', {
              src: url,
              alt: `Media ${index + 1} of message ${message.id}`,
              loading: 'lazy',
              decoding: 'async',
            }),
          )
        : // No URL: storage could not give one (the object is gone, storage is down).
          h(
            'span',
            { class: 'thumb missing', title: error ?? 'No URL for this item.' },
            'Photo unavailable',
          ),
    ),
  );
}

/** Why a photo (or other media) did not complete a task: a repeated proof, not a photo. */
function proofRejection(message) {
  const rejection = message.proof_rejection;
  if (!rejection) return null;
  return h(
    'p',
    { class: 'proof-rejection', dataset: { reason: rejection.reason } },
    h('strong', {}, 'Rejected as proof: '),
    rejection.message,
  );
}

function replyBlock(replies) {
  if (replies === null) return h('p', { class: 'reply muted' }, 'Reply: could not be loaded.');
  if (replies.length === 0) return h('p', { class: 'reply muted' }, 'No reply sent.');
  return replies.map((reply) =>
    h(
      'div',
      { class: 'reply', dataset: { outboundId: reply.id } },
      h('span', { class: 'reply-label' }, 'Reply'),
      statusBadge(reply.status),
      h('p', { class: 'reply-body' }, reply.body),
      reply.error_message || reply.error_code
        ? h(
            'p',
            { class: 'error-text' },
            `Twilio error ${reply.error_code ?? ''}: ${reply.error_message ?? ''}`.trim(),
          )
        : null,
    ),
  );
}

/** One inbound message: text, photos, processing status, the replies and their delivery. */
export function messageCard(message, replies, section) {
  const failed = message.processing_status === 'failed';
  return h(
    'article',
    {
      class: `message${failed ? ' is-failed' : ''}`,
      dataset: { messageId: message.id, status: message.processing_status },
      'aria-labelledby': `message-${message.id}-title`,
    },
    h(
      'header',
      { class: 'message-head' },
      h(
        'h2',
        { id: `message-${message.id}-title`, class: 'message-title' },
        `${sender(message.from_number)}`,
        h('span', { class: 'muted' }, ` · ${channel(message.from_number)} · #${message.id}`),
      ),
      h(
        'div',
        { class: 'message-status' },
        statusBadge(message.processing_status),
        h(
          'span',
          { class: 'muted' },
          ` ${message.attempts} attempt${message.attempts === 1 ? '' : 's'} · `,
        ),
        timeElement(message.created_at),
      ),
    ),
    message.body
      ? h('p', { class: 'message-body' }, message.body)
      : h('p', { class: 'muted' }, '(no text)'),
    message.num_media > 0 && message.storage_urls.length === 0
      ? h('p', { class: 'muted' }, `${message.num_media} media item(s), not stored yet.`)
      : null,
    thumbnails(message),
    message.error ? h('p', { class: 'error-text' }, `Error: ${message.error}`) : null,
    proofRejection(message),
    replyBlock(replies),
    failed
      ? h(
          'div',
          { class: 'message-actions' },
          h(
            'button',
            {
              class: 'button primary small',
              type: 'button',
              'aria-label': `Retry message ${message.id}`,
              onClick: (event) => retry(section, message, event.currentTarget),
            },
            'Retry',
          ),
        )
      : null,
  );
}

async function repliesFor(message) {
  try {
    return (await api(`/outbound${query({ inbound_message_id: message.id, limit: 5 })}`)).items;
  } catch (error) {
    if (error.status === 401) throw error;
    return null;
  }
}

export async function renderCard(section, message) {
  const replies = await repliesFor(message);
  const card = messageCard(message, replies, section);
  const current = section.querySelector(`[data-message-id="${message.id}"]`);
  if (current) current.replaceWith(card);
  return card;
}

/** Queues a failed message again, shows it as pending, then follows it until it settles. */
async function retry(section, message, button) {
  const queued = await withBusy(button, () =>
    api(`/messages/${message.id}/reprocess`, { method: 'POST' }),
  );
  if (!queued) return;
  notify(`Message #${message.id} queued for processing again.`);
  await renderCard(section, queued);
  for (let polls = 0; polls < POLL_LIMIT; polls += 1) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!section.querySelector(`[data-message-id="${message.id}"]`)) return;
    let latest;
    try {
      latest = await api(`/messages/${message.id}`);
    } catch (error) {
      showError(error);
      return;
    }
    await renderCard(section, latest);
    if (latest.processing_status === 'processed' || latest.processing_status === 'failed') {
      notify(
        latest.processing_status === 'processed'
          ? `Message #${message.id} was processed.`
          : `Message #${message.id} failed again; see its error.`,
      );
      return;
    }
  }
}

export async function loadMessages(section) {
  const list = section.querySelector('[data-list]');
  await loading(list, async () => {
    try {
      const page = await api(`/messages/${query({ limit: PAGE_SIZE, offset })}`);
      if (page.items.length === 0 && offset > 0) {
        offset = 0;
        return loadMessages(section);
      }
      const replies = await Promise.all(page.items.map(repliesFor));
      replace(
        list,
        page.items.length === 0
          ? emptyState('No messages yet. Messages sent to your Twilio number show up here.')
          : page.items.map((message, index) => messageCard(message, replies[index], section)),
      );
      renderPager(
        section.querySelector('[data-pager]'),
        page,
        (next) => {
          offset = next;
          void loadMessages(section);
        },
        'messages',
      );
    } catch (error) {
      showError(error);
    }
  });
}
