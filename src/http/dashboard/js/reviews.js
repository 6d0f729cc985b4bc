// "Reviews": the proofs of `review: peer` and `model` groups still waiting for a decision,
// each with its photo, owner, task, group and age; the admin approves one (the task is
// completed and its points given, once) or rejects it with a reason the owner is told.
import { api, query } from './api.js';
import { emptyState, h, renderPager, replace, timeElement } from './dom.js';
import { photo } from './feed.js';
import { groupFilter, groupName } from './group-filter.js';
import { loading, notify, showError, withBusy } from './ui.js';

const PAGE_SIZE = 10;
let offset = 0;

const METHODS = { peer: 'Peer review', model: 'Model review' };

/** What the model said, or why peers review instead (no model, unsure, timed out). */
function modelLine(review) {
  const verdict = review.model_verdict;
  if (review.method !== 'model' || !verdict || typeof verdict !== 'object') return null;
  if (typeof verdict.fallback === 'string') {
    return h('p', { class: 'meta muted' }, `Model: ${verdict.fallback}`);
  }
  const confidence =
    typeof verdict.confidence === 'number' ? `, confidence ${verdict.confidence.toFixed(2)}` : '';
  const said = verdict.matches === true ? 'matches' : verdict.matches === false ? 'no match' : '?';
  const reason = typeof verdict.reason === 'string' ? ` — ${verdict.reason}` : '';
  return h('p', { class: 'meta muted' }, `Model: ${said}${confidence}${reason}`);
}

const taskName = (review) =>
  review.task_description ? `“${review.task_description}”` : 'a deleted task';

async function decide(section, review, button, decision) {
  const decided = await withBusy(button, () =>
    decision.approve
      ? api(`/reviews/${review.id}/approve`, { method: 'POST' })
      : api(`/reviews/${review.id}/reject`, {
          method: 'POST',
          body: { reason: decision.reason },
        }),
  );
  if (decided) {
    notify(
      decision.approve
        ? `Approved ${review.username}’s ${taskName(review)}: the task is completed and its points given.`
        : `Rejected ${review.username}’s ${taskName(review)}; they are told why and can send another photo.`,
    );
  }
  // Decided here or (409) by someone else meanwhile: either way it leaves the list.
  await loadReviews(section);
}

function reviewCard(section, review) {
  const reasonId = `reject-reason-${review.id}`;
  const reason = h('input', {
    id: reasonId,
    name: 'reason',
    required: true,
    maxlength: 500,
    autocomplete: 'off',
    placeholder: 'The photo does not show it',
  });
  const approve = h(
    'button',
    {
      class: 'button primary',
      type: 'button',
      onClick: (event) => decide(section, review, event.currentTarget, { approve: true }),
    },
    'Approve',
  );
  const reject = h(
    'form',
    {
      class: 'reject-form',
      onSubmit: (event) => {
        event.preventDefault();
        const text = reason.value.trim();
        if (!text) return;
        void decide(section, review, event.currentTarget.querySelector('button'), {
          approve: false,
          reason: text,
        });
      },
    },
    h('div', { class: 'field' }, h('label', { for: reasonId }, 'Reason to reject'), reason),
    h('button', { class: 'button danger', type: 'submit' }, 'Reject'),
  );
  return h(
    'article',
    {
      class: 'review-card',
      dataset: { reviewId: review.id, taskId: review.task_id ?? '' },
      'aria-label': `${review.username}: ${review.task_description ?? 'proof'}`,
    },
    photo(review),
    h(
      'div',
      { class: 'review-body' },
      h('h2', { class: 'review-task' }, review.task_description ?? 'A deleted task'),
      h(
        'p',
        { class: 'meta' },
        h('strong', {}, review.username),
        ' · ',
        h('span', { class: 'review-group' }, groupName(review.group_id)),
        ' · ',
        h('span', { class: 'badge' }, METHODS[review.method] ?? review.method),
      ),
      h(
        'p',
        { class: 'meta muted' },
        'Sent ',
        timeElement(review.created_at),
        '; approved by itself ',
        timeElement(review.timeout_at),
        ' if nobody decides.',
      ),
      modelLine(review),
      h('div', { class: 'review-actions' }, approve, reject),
    ),
  );
}

export async function loadReviews(section) {
  const list = section.querySelector('[data-list]');
  await loading(list, async () => {
    try {
      const groupId = await groupFilter(section, () => {
        offset = 0;
        void loadReviews(section);
      });
      const page = await api(
        `/reviews${query({ status: 'pending', group_id: groupId, limit: PAGE_SIZE, offset })}`,
      );
      if (page.items.length === 0 && offset > 0) {
        offset = 0;
        return loadReviews(section);
      }
      replace(
        list,
        page.items.length === 0
          ? emptyState(
              'No proof is waiting for review. Groups with review “peer” or “model” ask here.',
            )
          : page.items.map((review) => reviewCard(section, review)),
      );
      renderPager(
        section.querySelector('[data-pager]'),
        page,
        (next) => {
          offset = next;
          void loadReviews(section);
        },
        'reviews',
      );
    } catch (error) {
      showError(error);
    }
  });
}
