import type { Queryable } from '../db/executor.js';
import { type FeedPostRow, insertFeedPost } from '../db/feed.js';
import type { ClaimedMessage } from '../db/message-queue.js';
import { recordExpiryNotice } from '../db/reminders.js';
import {
  expireOverdueAndLockProofTask,
  latestPastTask,
  type ProofPublication,
  publishProofCompletingTask,
} from '../db/tasks.js';
import { type StoredMedia, channelOf } from '../domain/message.js';
import type { UserRow } from '../domain/user.js';
import type { AccountabilityOptions } from './accountability.js';
import { shareProof } from './group-news.js';
import { streakAfterProof } from './habits.js';
import {
  DEFAULT_PROOF_DUPLICATE_DISTANCE,
  nearCopyLocksFor,
  proofFingerprint,
  rejectRepeatedProof,
  settleProofCheck,
} from './proof-check.js';
import { formatDueTime, noticeTexts, replyTexts } from './reply-texts.js';
import { DEFAULT_REVIEW_TIMEOUT_MS, reviewMethodOf, startReview } from './reviews.js';
import { personTimeZone } from './time-zones.js';

/**
 * A photo, as proof of the sender's task (the accountability loop's photo path, run in the
 * transaction that marks the message processed, see src/services/accountability.ts): the
 * overdue tasks expire, the task still open when it was sent is found, the photo is
 * checked against every earlier proof (src/services/proof-check.ts), and then, in a group
 * without review, the feed post, the completion and the points are written at once and the
 * group is told; in a reviewing group the post waits for the review
 * (src/services/reviews.ts). Returns the reply. All of it happens exactly once: the feed is
 * unique on task, message and photo bytes.
 */
export async function replyToPhoto(
  tx: Queryable,
  message: ClaimedMessage,
  photo: StoredMedia,
  user: UserRow,
  options: AccountabilityOptions,
): Promise<string> {
  const zone = (who: UserRow) => personTimeZone(who, options.defaultTimezone);
  // A photo sent after a task's due time is no proof for it, even when the scheduler
  // has not expired the task yet: it expires now, and the reply says so.
  const now = options.clock?.() ?? new Date();
  const sentAt = message.created_at;
  const proofCheck = {
    maxDistance: options.proofDuplicateDistance ?? DEFAULT_PROOF_DUPLICATE_DISTANCE,
    defaultTimezone: options.defaultTimezone,
  };
  // One round trip for what used to be several (issue 14): the overdue tasks expired,
  // the task this photo proves locked with its group's review rule, and the near-copy
  // lock taken, so that the check, in a later statement, sees every proof committed
  // before it.
  const nearCopyLocks = nearCopyLocksFor(photo, proofCheck.maxDistance);
  const { expired, task, groupReview } = await expireOverdueAndLockProofTask(
    tx,
    user.id,
    { messageId: message.id, sentAt },
    now,
    { nearCopyLocks },
  );
  for (const overdue of expired) {
    await recordExpiryNotice(
      tx,
      overdue,
      {
        status: 'sent',
        channel: channelOf(message),
        reason: 'Told in the reply to a photo sent after the due time.',
        outboundMessageId: null,
      },
      now,
    );
  }
  // Only a task still open when the photo was sent: one already due then but held
  // active for an earlier message of the user is not this photo's to complete.
  if (!task) {
    const latest = expired[0] ?? (await latestPastTask(tx, user.id, sentAt));
    if (!latest || latest.status === 'completed') return replyTexts.photoWithoutTask();
    const due = formatDueTime(latest.due_time, zone(user));
    return latest.status === 'expired'
      ? noticeTexts.photoForExpiredTask(latest, due)
      : noticeTexts.photoAfterDue(latest, due);
  }
  // A photo counts as proof once: not again for this task, nor for anyone else's.
  const proof = {
    messageId: message.id,
    photo,
    user,
    task,
    recorded: message.proof_rejection,
  };
  const checkOptions = { ...proofCheck, nearCopyLockHeld: nearCopyLocks !== null };
  // Unique on task, on message and on proof bytes: a second post for any is impossible,
  // so a re-processed message can never complete a task or award points twice.
  // A group that reviews proofs: the post waits for the decision (src/services/reviews.ts).
  const groupId = task.group_id;
  const review = reviewMethodOf(groupReview);
  const newPost = {
    user_id: user.id,
    task_id: task.id,
    image_url: photo.url ?? null,
    // The URL is built from the key when the feed is read, for the address it is read on.
    image_key: photo.key ?? null,
    post_content: message.body || null,
    message_id: message.id,
    proof: proofFingerprint(photo),
  };
  let post: FeedPostRow | null;
  let published: (ProofPublication & { outcome: 'published' }) | null = null;
  if (review === 'none') {
    // The check, the post, the completion and the points: one statement, which starts
    // after the near-copy locks were taken (above) and so sees every earlier near copy.
    const outcome = await publishProofCompletingTask(tx, newPost, {
      maxDistance: proofCheck.maxDistance,
    });
    if (outcome.outcome !== 'conflict') {
      const earlier = outcome.outcome === 'repeat' ? outcome.earlier : null;
      const repeated = await settleProofCheck(tx, proof, earlier, proofCheck);
      if (repeated) return repeated;
    }
    published = outcome.outcome === 'published' ? outcome : null;
    post = published?.post ?? null;
  } else {
    const repeated = await rejectRepeatedProof(tx, proof, checkOptions);
    if (repeated) return repeated;
    post = await insertFeedPost(tx, { ...newPost, status: 'pending_review' });
  }
  // Also unique on the photo's bytes: a worker racing with the same photo got there first.
  if (!post) {
    return (await rejectRepeatedProof(tx, proof, checkOptions)) ?? replyTexts.photoWithoutTask();
  }
  if (review !== 'none') {
    return startReview(
      tx,
      {
        user,
        task,
        groupId,
        feedId: post.id,
        messageId: message.id,
        ownerAddress: message.from_number,
        fromNumber: message.to_number,
        imageKey: photo.key ?? null,
        // A URL Twilio can fetch (public bucket, PUBLIC_URL), for the review requests.
        imageUrl:
          photo.key && options.groupNews?.photoUrl
            ? await options.groupNews.photoUrl(photo.key).catch(() => null)
            : null,
        method: review,
      },
      {
        timeoutMs: options.review?.timeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS,
        modelConfigured: options.review?.modelConfigured ?? false,
        defaultTimezone: options.defaultTimezone ?? 'UTC',
      },
      now,
    );
  }
  // The task was locked active above (FOR UPDATE), so the post completed it and added its points.
  const total = published?.total ?? user.points + task.points;
  // The other members hear of it, in this transaction: once each, however often it runs.
  // Without a NOTIFY: the message's commit wakes the senders (Announce, src/db/outbound.ts).
  await shareProof(
    tx,
    {
      feedId: post.id,
      author: user,
      task,
      imageKey: photo.key ?? null,
      receivedOn: message.to_number,
      group: published?.group ?? null,
    },
    options.groupNews ?? {
      defaultTimezone: options.defaultTimezone ?? 'UTC',
      whatsappNumber: null,
    },
    now,
    { announce: false },
  );
  // A habit's occurrence: the reply says the streak it is on now.
  const streak = task.habit_id === null ? '' : await streakAfterProof(tx, task.habit_id);
  return replyTexts.completed(task, task.points, total) + streak;
}
