import type { Database, Queryable } from '../db/executor.js';
import { type Announce, enqueueOutbound } from '../db/outbound.js';
import {
  type Decision,
  type ReviewListRow,
  type ReviewRow,
  type ReviewStatus,
  decideReviewRow,
  completeReviewedTask,
  findReview,
  findTask,
  findUser,
  holdTaskForReview,
  insertReview,
  insertReviewRequest,
  isGroupMember,
  listReviews,
  otherMembers,
  pendingRequestsOf,
  reopenReviewedTask,
  reviewIdByRequestSid,
  setFeedStatus,
} from '../db/reviews.js';
import { addPoints } from '../db/users.js';
import { conflict, notFound, validationFailed } from '../domain/errors.js';
import { insideWhatsAppWindow } from '../domain/reminder.js';
import type { TaskRow } from '../domain/task.js';
import type { UserRow } from '../domain/user.js';
import { type GroupNewsSettings, sharePublishedPost } from './group-news.js';
import { streakAfterProof } from './habits.js';
import { formatDueTime } from './reply-texts.js';
import { personTimeZone } from './time-zones.js';

/**
 * Peer and model review of proofs (issue 16). In a group whose `review` is `peer` or
 * `model`, a photo does not complete its task: in the processing transaction the task goes
 * to `pending_review`, its feed post too, and a proof_reviews row records who decides.
 *
 * - Peer: every other member of the group is asked at once (all rather than round-robin:
 *   the first answer wins, so asking everybody decides soonest, and nobody's silence
 *   holds a proof up), with the owner's name, the task and the photo. A member who opted
 *   out or is outside WhatsApp's 24-hour window is not asked (recorded with the reason).
 *   They answer 👍, or 👎 and why, as a quoted reply to the request, or `approve <n>` /
 *   `reject <n> <reason>`.
 * - Model: the model review job (src/jobs/model-review.ts) asks the vision model outside
 *   any transaction; a confident verdict decides, anything else falls back to peers.
 * - Nobody decided within REVIEW_TIMEOUT: approved (src/jobs/review-timeouts.ts).
 *
 * The decision is one conditional UPDATE of the review row (decideReviewRow), and
 * approval's completion and points are in the same transaction: the first decision wins and
 * the points are awarded once, whatever races.
 */

/** REVIEW_TIMEOUT's default: 12 hours. */
export const DEFAULT_REVIEW_TIMEOUT_MS = 12 * 3600 * 1000;

/** A model verdict at least this sure decides (PROOF_MODEL_CONFIDENCE's default). */
export const DEFAULT_MODEL_CONFIDENCE = 0.8;

export interface ReviewSettings {
  /** REVIEW_TIMEOUT in ms. */
  timeoutMs: number;
  /** Whether a vision model is configured (PROOF_MODEL_URL); without one `model` means peer. */
  modelConfigured: boolean;
  /** TZ */
  defaultTimezone: string;
  /**
   * How an approved proof is shared with the group (src/services/group-news.ts); without
   * it, shared as text (no photo URL) from the number the proof was sent to.
   */
  groupNews?: GroupNewsSettings;
}

export const reviewTexts = {
  pending: (task: TaskRow, method: 'peer' | 'model') =>
    `📸 Got your photo for "${task.description}". ` +
    (method === 'model'
      ? 'It is being checked; you will hear the result soon.'
      : 'Your group reviews it; the points come once it is approved.'),
  request: (owner: string, task: TaskRow, id: number) =>
    `📸 ${owner} sent a photo for "${task.description}". Reply 👍 to approve or 👎 and why ` +
    `to reject (or "approve ${id}" / "reject ${id} <reason>").`,
  approvedOwner: (task: TaskRow, by: string, earned: number, total: number, streak: string) =>
    `✅ ${by} approved your proof for "${task.description}": +${earned} points (total ${total}).` +
    streak,
  rejectedOwner: (task: TaskRow, by: string, reason: string, due: string | null) =>
    `❌ ${by} rejected your proof for "${task.description}": ${reason}` +
    (due ? ` Send another photo before ${due}.` : ''),
  approvedVoter: (owner: string, task: TaskRow) =>
    `👍 Approved: ${owner}'s "${task.description}". Thanks!`,
  rejectedVoter: (owner: string, task: TaskRow) =>
    `👎 Rejected: ${owner}'s "${task.description}". They have been told why.`,
  alreadyDecided: (review: ReviewRow) =>
    `That proof was already ${review.status} (${review.decided_by === 'peer' ? 'by another member' : `by ${review.decided_by ?? 'someone'}`}).`,
  ownProof: () => 'You cannot review your own proof: another member of your group decides.',
  notMember: () => 'Only members of the group the task belongs to can review its proof.',
  unknown: (id: number | null) =>
    id === null ? 'There is no proof waiting for your review.' : `There is no proof review ${id}.`,
  which: (ids: number[]) =>
    `Several proofs wait for your review (${ids.join(', ')}): reply to the request itself, or write "approve <n>" / "reject <n> <reason>".`,
  reasonNeeded: (id: number) => `Say why, so they can do better: "reject ${id} <reason>".`,
};

const byName = (decision: Decision, voter: UserRow | null): string =>
  decision.by === 'peer'
    ? (voter?.username ?? 'A member')
    : decision.by === 'model'
      ? 'The photo check'
      : decision.by === 'timeout'
        ? 'Nobody objected in time, so it'
        : 'The admin';

/**
 * The review method of a group's `review` rule (groups.review; null without a group): none,
 * or peer/model (model means peer when no model is configured, see startReview).
 */
export const reviewMethodOf = (review: string | null): 'none' | 'peer' | 'model' =>
  review === 'peer' || review === 'model' ? review : 'none';

export interface ProofForReview {
  user: UserRow;
  task: TaskRow;
  groupId: number | null;
  feedId: number;
  messageId: number;
  ownerAddress: string;
  fromNumber: string;
  imageKey: string | null;
  imageUrl: string | null;
  method: 'peer' | 'model';
}

/**
 * Holds the task for review and records the review, in the proof's processing transaction;
 * asks peers at once unless a model decides first. Resolves to the owner's reply.
 */
export async function startReview(
  tx: Queryable,
  proof: ProofForReview,
  settings: ReviewSettings,
  now: Date,
): Promise<string> {
  await holdTaskForReview(tx, proof.task.id);
  const viaModel = proof.method === 'model' && settings.modelConfigured;
  const review = await insertReview(tx, {
    feedId: proof.feedId,
    taskId: proof.task.id,
    userId: proof.user.id,
    groupId: proof.groupId,
    messageId: proof.messageId,
    ownerAddress: proof.ownerAddress,
    fromNumber: proof.fromNumber,
    imageKey: proof.imageKey,
    imageUrl: proof.imageUrl,
    method: proof.method,
    timeoutAt: new Date(now.getTime() + settings.timeoutMs),
    modelStatus: viaModel ? 'pending' : proof.method === 'model' ? 'done' : null,
    modelVerdict:
      proof.method === 'model' && !viaModel
        ? { fallback: 'PROOF_MODEL_URL is not set: reviewed by peers.' }
        : undefined,
  });
  // In the photo's own transaction: its commit wakes the senders (Announce, src/db/outbound.ts).
  if (review && !viaModel) {
    await askPeers(tx, review, proof.task, proof.user, now, { announce: false });
  }
  return reviewTexts.pending(proof.task, viaModel ? 'model' : 'peer');
}

/** Asks every other member of the review's group who can be reached now. */
export async function askPeers(
  tx: Queryable,
  review: ReviewRow,
  task: TaskRow,
  owner: UserRow,
  now: Date,
  options: Announce = {},
): Promise<number> {
  if (review.group_id === null) return 0;
  let asked = 0;
  for (const member of await otherMembers(tx, review.group_id, owner.id)) {
    const address = member.phone_number ?? member.whatsapp_id;
    const skipped = member.opted_out_at
      ? 'Opted out (STOP): not asked.'
      : !insideWhatsAppWindow(member.last_whatsapp_inbound_at, now)
        ? 'Outside the 24-hour WhatsApp window: a free-form request would fail (63016).'
        : !address
          ? 'No phone number or WhatsApp id to send to.'
          : null;
    let outboundId: number | null = null;
    if (skipped === null && address) {
      const outbound = await enqueueOutbound(
        tx,
        {
          kind: 'review_request',
          inboundMessageId: null,
          userId: member.id,
          to: `whatsapp:${address}`,
          from: review.from_number,
          body: reviewTexts.request(owner.username, task, review.id),
          // Only a URL Twilio can fetch: a public bucket's or one on PUBLIC_URL.
          mediaUrls:
            review.image_url && /^https?:\/\//.test(review.image_url) ? [review.image_url] : [],
          taskId: task.id,
        },
        options,
      );
      outboundId = outbound?.id ?? null;
      asked += 1;
    }
    await insertReviewRequest(tx, {
      reviewId: review.id,
      reviewerId: member.id,
      outboundId,
      skipped,
    });
  }
  return asked;
}

export type DecideOutcome =
  { decided: ReviewRow; task: TaskRow | null; owner: UserRow | null } | { already: ReviewRow };

/**
 * Makes the decision if the review is still pending (else `already`): approval completes
 * the task and awards its points, rejection gives the task back; the owner is told.
 */
export async function decideReview(
  tx: Queryable,
  reviewId: number,
  decision: Decision,
  settings: Pick<ReviewSettings, 'defaultTimezone' | 'groupNews'>,
): Promise<DecideOutcome | null> {
  const decided = await decideReviewRow(tx, reviewId, decision);
  if (!decided) {
    const review = await findReview(tx, reviewId);
    return review ? { already: review } : null;
  }
  const owner = await findUser(tx, decided.user_id);
  const voter = await findUser(tx, decision.userId);
  const by = byName(decision, voter);
  let task: TaskRow | null = null;
  let body: string | null = null;
  if (decision.status === 'approved') {
    task =
      decided.task_id === null
        ? null
        : await completeReviewedTask(tx, decided.task_id, decision.at);
    await setFeedStatus(tx, decided.feed_id, 'published');
    // Published now: the members who were not asked to review it hear of it (group-news.ts),
    // with the photo its review requests carried, whoever decided (a vote's or the admin's
    // path has no storage settings); without the workers' settings, from the proof's number.
    await sharePublishedPost(
      tx,
      decided.feed_id,
      settings.groupNews ?? { defaultTimezone: settings.defaultTimezone, whatsappNumber: null },
      decision.at,
      decided.image_url,
    );
    if (task && owner) {
      const total = (await addPoints(tx, owner.id, task.points)) ?? owner.points + task.points;
      const streak = task.habit_id === null ? '' : await streakAfterProof(tx, task.habit_id);
      body = reviewTexts.approvedOwner(task, by, task.points, total, streak);
    }
  } else {
    task = decided.task_id === null ? null : await reopenReviewedTask(tx, decided.task_id);
    await setFeedStatus(tx, decided.feed_id, 'rejected');
    if (task && owner) {
      const open = task.due_time.getTime() > decision.at.getTime();
      const due = open
        ? formatDueTime(task.due_time, personTimeZone(owner, settings.defaultTimezone))
        : null;
      body = reviewTexts.rejectedOwner(task, by, decision.reason ?? 'no reason given.', due);
    }
  }
  // The owner hears the decision (not when they opted out since).
  if (body && owner && !owner.opted_out_at) {
    await enqueueOutbound(tx, {
      kind: 'review_result',
      inboundMessageId: null,
      userId: owner.id,
      to: decided.owner_address,
      from: decided.from_number,
      body,
      taskId: task?.id ?? null,
    });
  }
  return { decided, task, owner };
}

export interface Vote {
  voter: UserRow;
  approve: boolean;
  /** The review named (`approve 12`), else null: the quoted request's, or the only one. */
  reviewId: number | null;
  /** OriginalRepliedMessageSid of a WhatsApp quoted reply. */
  repliedSid: string | null;
  reason: string;
  now: Date;
}

/** A member's vote, in their message's processing transaction; resolves to their reply. */
export async function castVote(
  tx: Queryable,
  vote: Vote,
  settings: Pick<ReviewSettings, 'defaultTimezone'>,
): Promise<string> {
  let reviewId = vote.reviewId;
  if (reviewId === null && vote.repliedSid)
    reviewId = await reviewIdByRequestSid(tx, vote.repliedSid);
  if (reviewId === null) {
    const open = await pendingRequestsOf(tx, vote.voter.id);
    if (open.length > 1) return reviewTexts.which(open);
    reviewId = open[0] ?? null;
    if (reviewId === null) return reviewTexts.unknown(null);
  }
  const review = await findReview(tx, reviewId);
  if (!review) return reviewTexts.unknown(reviewId);
  if (review.user_id === vote.voter.id) return reviewTexts.ownProof();
  if (!(await isGroupMember(tx, review.group_id, vote.voter.id))) return reviewTexts.notMember();
  if (review.status !== 'pending') return reviewTexts.alreadyDecided(review);
  if (!vote.approve && !vote.reason) return reviewTexts.reasonNeeded(review.id);
  const outcome = await decideReview(
    tx,
    review.id,
    {
      status: vote.approve ? 'approved' : 'rejected',
      by: 'peer',
      userId: vote.voter.id,
      reason: vote.approve ? null : vote.reason,
      at: vote.now,
    },
    settings,
  );
  if (!outcome) return reviewTexts.unknown(reviewId);
  if ('already' in outcome) return reviewTexts.alreadyDecided(outcome.already);
  const ownerName = outcome.owner?.username ?? 'Their';
  const task = outcome.task ?? (await findTask(tx, review.task_id));
  if (!task) return vote.approve ? '👍 Approved.' : '👎 Rejected.';
  return vote.approve
    ? reviewTexts.approvedVoter(ownerName, task)
    : reviewTexts.rejectedVoter(ownerName, task);
}

/** Approves every review whose REVIEW_TIMEOUT passed, one transaction each (SKIP LOCKED). */
export async function approveNextTimedOut(
  db: Database,
  settings: Pick<ReviewSettings, 'defaultTimezone' | 'groupNews'>,
  now: Date,
  lockNext: (tx: Queryable, now: Date) => Promise<number | null>,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const id = await lockNext(tx, now);
    if (id === null) return false;
    await decideReview(
      tx,
      id,
      { status: 'approved', by: 'timeout', userId: null, reason: null, at: now },
      settings,
    );
    return true;
  });
}

// The admin API.

export interface ReviewAnswer {
  id: number;
  created_at: string;
  feed_id: number;
  task_id: number | null;
  task_description: string | null;
  due_time: string | null;
  user_id: number;
  username: string;
  group_id: number | null;
  method: ReviewRow['method'];
  status: ReviewRow['status'];
  timeout_at: string;
  decided_at: string | null;
  decided_by: ReviewRow['decided_by'];
  decided_by_user_id: number | null;
  reason: string | null;
  model_verdict: unknown;
  image_key: string | null;
}

const answer = (row: ReviewListRow): ReviewAnswer => ({
  id: row.id,
  created_at: row.created_at.toISOString(),
  feed_id: row.feed_id,
  task_id: row.task_id,
  task_description: row.task_description,
  due_time: row.due_time?.toISOString() ?? null,
  user_id: row.user_id,
  username: row.username,
  group_id: row.group_id,
  method: row.method,
  status: row.status,
  timeout_at: row.timeout_at.toISOString(),
  decided_at: row.decided_at?.toISOString() ?? null,
  decided_by: row.decided_by,
  decided_by_user_id: row.decided_by_user_id,
  reason: row.reason,
  model_verdict: row.model_verdict ?? null,
  image_key: row.image_key,
});

export async function listReviewsForApi(
  db: Queryable,
  query: { status: ReviewStatus | null; groupId: number | null; limit: number; offset: number },
): Promise<{ items: ReviewAnswer[]; total: number }> {
  const { items, total } = await listReviews(db, query);
  return { items: items.map(answer), total };
}

/** An admin's decision; 404 for no such review, 409 when it was decided already. */
export async function adminDecide(
  db: Queryable,
  id: number,
  input: { approve: boolean; reason: string | null },
  settings: Pick<ReviewSettings, 'defaultTimezone'>,
  now: Date = new Date(),
): Promise<ReviewAnswer> {
  if (!input.approve && !input.reason?.trim()) {
    throw validationFailed('reason is required to reject a proof: the owner is told why.');
  }
  await inTransaction(db, async (tx) => {
    const outcome = await decideReview(
      tx,
      id,
      {
        status: input.approve ? 'approved' : 'rejected',
        by: 'admin',
        userId: null,
        reason: input.approve ? null : (input.reason?.trim() ?? null),
        at: now,
      },
      settings,
    );
    if (!outcome) throw notFound(`No proof review ${id}.`);
    if ('already' in outcome) {
      throw conflict(`Proof review ${id} was already ${outcome.already.status}.`);
    }
  });
  return answer(await oneReview(db, id));
}

/** The API's database is a Queryable; with a pool (Database) the decision is one transaction. */
const inTransaction = <T>(db: Queryable, work: (tx: Queryable) => Promise<T>): Promise<T> =>
  'transaction' in db && typeof (db as Database).transaction === 'function'
    ? (db as Database).transaction(work)
    : work(db);

async function oneReview(db: Queryable, id: number): Promise<ReviewListRow> {
  const review = await findReview(db, id);
  if (!review) throw notFound(`No proof review ${id}.`);
  const [owner, task] = [await findUser(db, review.user_id), await findTask(db, review.task_id)];
  return {
    ...review,
    username: owner?.username ?? '',
    task_description: task?.description ?? null,
    due_time: task?.due_time ?? null,
  };
}
