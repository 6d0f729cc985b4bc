import type { Queryable } from '../db/executor.js';
import type { ClaimedMessage, InboundReply } from '../db/message-queue.js';
import { enqueueOutbound } from '../db/outbound.js';
import { type FeedPostRow, insertFeedPost } from '../db/feed.js';
import { recordExpiryNotice } from '../db/reminders.js';
import {
  expireOverdueAndLockProofTask,
  findActiveTaskForUser,
  latestPastTask,
  type ProofPublication,
  publishProofCompletingTask,
} from '../db/tasks.js';
import {
  findSenderRecordingInbound,
  findUserBySender,
  recordInbound,
  registerSender,
  rememberWhatsAppId,
} from '../db/users.js';
import { type StoredMedia, channelOf } from '../domain/message.js';
import { isE164 } from '../domain/phone.js';
import { DEFAULT_REMINDER_OFFSETS } from '../domain/reminder.js';
import { DEFAULT_POINTS_PER_TASK } from '../domain/task.js';
import type { UserRow } from '../domain/user.js';
import { isImageContentType } from '../media/fingerprint.js';
import {
  DEFAULT_PROOF_DUPLICATE_DISTANCE,
  needsNearCopyLock,
  proofFingerprint,
  recordNotAPhoto,
  rejectRepeatedProof,
  settleProofCheck,
} from './proof-check.js';
import { runCommand } from './commands/index.js';
import { plainTextReply } from './plain-texts.js';
import { placeNewSender } from './groups.js';
import { streakAfterProof } from './habits.js';
import { type GroupNewsSettings, shareProof } from './group-news.js';
import { DEFAULT_REVIEW_TIMEOUT_MS, reviewMethodOf, startReview } from './reviews.js';
import { personTimeZone } from './time-zones.js';
import { formatDueTime, noticeTexts, replyTexts } from './reply-texts.js';

export interface AccountabilityOptions {
  /** AUTO_REGISTER: unknown senders become users, named after their WhatsApp profile. */
  autoRegister: boolean;
  /** PROOF_DUPLICATE_DISTANCE (default 6): see src/services/proof-check.ts. */
  proofDuplicateDistance?: number;
  /** TZ: due times of users without their own time zone are shown in it (default UTC). */
  defaultTimezone?: string;
  /** The current time (tests inject one). */
  clock?: () => Date;
  /** REMINDER_OFFSETS for the tasks people create by command (default 60, 15). */
  reminderOffsets?: readonly number[];
  /** POINTS_PER_TASK for the tasks people create by command (default 10). */
  pointsPerTask?: number;
  /** PAUSE_MAX_DAYS_PER_30: paused days a person may have in any 30 (default 14). */
  pauseMaxDaysPer30?: number;
  /** Where the participant app is: the `link` command's magic links point there. */
  appBaseUrl?: string;
  /** How proofs are shared with the group (src/services/group-news.ts). */
  groupNews?: GroupNewsSettings;
  /** Peer and model review (REVIEW_TIMEOUT, PROOF_MODEL_URL): src/services/reviews.ts. */
  review?: { timeoutMs: number; modelConfigured: boolean };
}

const isImage = (item: StoredMedia) =>
  item.key !== undefined && isImageContentType(item.content_type);

/**
 * The user a message is from: by phone number, WhatsApp id, or WaId; registered if allowed.
 * `recorded`: the message is already their latest inbound (the common case, a sender known
 * by their address, looks up and records in one statement); otherwise the caller records it.
 */
async function identifySender(
  tx: Queryable,
  message: ClaimedMessage,
  options: AccountabilityOptions,
): Promise<{ user: UserRow | null; created: boolean; recorded?: true }> {
  const byAddress = await findSenderRecordingInbound(tx, message.sender, {
    at: message.created_at,
    channel: channelOf(message),
  });
  if (byAddress) return { user: byAddress, created: false, recorded: true };
  const waId = typeof message.raw.WaId === 'string' ? message.raw.WaId : null;
  if (waId && /^\d{7,15}$/.test(waId)) {
    const byWaId = await findUserBySender(tx, `+${waId}`);
    // Writing from a WhatsApp username: remember it, so this sender is known by it from
    // now on (and the user's pending messages are found by sender, see expiry).
    if (byWaId && !isE164(message.sender)) {
      return { user: await rememberWhatsAppId(tx, byWaId, message.sender), created: false };
    }
    if (byWaId) return { user: byWaId, created: false };
  }
  if (!options.autoRegister) return { user: null, created: false };
  const profileName =
    typeof message.raw.ProfileName === 'string' ? message.raw.ProfileName.trim() : '';
  const phoneNumber = isE164(message.sender) ? message.sender : null;
  return registerSender(tx, {
    username: (profileName || 'WhatsApp user').slice(0, 100),
    phoneNumber,
    // A WhatsApp username sender (`whatsapp:US.1349...`) is known by that id alone.
    whatsappId: phoneNumber ? null : message.sender,
  });
}

/**
 * The accountability loop for one processed inbound message, run inside the transaction
 * that marks the message processed (see processInboundJob), so all of it happens
 * exactly once: a photo from a user with an active task posts to the feed, completes the
 * earliest-due active task and adds its points atomically; every message gets one reply,
 * recorded here and sent by the outbound worker.
 */
export async function runAccountabilityLoop(
  tx: Queryable,
  message: ClaimedMessage,
  stored: StoredMedia[],
  options: AccountabilityOptions,
): Promise<void> {
  await enqueueOutbound(tx, await accountabilityReply(tx, message, stored, options));
}

/**
 * The reply to an inbound message, with everything else the loop does for it (see
 * runAccountabilityLoop) already done in `tx`; the caller records the reply. The inbound
 * job records it in the statement that marks the message processed (one round trip fewer
 * per message, src/db/message-queue.ts).
 */
export async function accountabilityReply(
  tx: Queryable,
  message: ClaimedMessage,
  stored: StoredMedia[],
  options: AccountabilityOptions,
): Promise<InboundReply> {
  const { user, created, recorded } = await identifySender(tx, message, options);
  let body: string;
  if (!user) {
    body = replyTexts.notRegistered();
  } else {
    if (!recorded) await recordInbound(tx, user.id, message.created_at, channelOf(message));
    // A sender who never joined a group lands in the default one (`join <code>`: that one only).
    if (created) await placeNewSender(tx, user.id, message.body);
    body =
      (created ? replyTexts.welcome(user.username) : '') +
      (await replyFor(tx, message, stored, user, options));
  }
  return {
    kind: 'reply',
    inboundMessageId: message.id,
    userId: user?.id ?? null,
    // Back to the sender, from the number they wrote to, on the same channel.
    to: message.from_number,
    from: message.to_number,
    body,
  };
}

async function replyFor(
  tx: Queryable,
  message: ClaimedMessage,
  stored: StoredMedia[],
  user: UserRow,
  options: AccountabilityOptions,
): Promise<string> {
  const zone = (who: UserRow) => personTimeZone(who, options.defaultTimezone);
  const photo = stored.find(isImage);
  if (photo) {
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
    const nearCopyLock = needsNearCopyLock(photo, proofCheck.maxDistance);
    const { expired, task, groupReview } = await expireOverdueAndLockProofTask(
      tx,
      user.id,
      { messageId: message.id, sentAt },
      now,
      { nearCopyLock },
    );
    for (const overdue of expired) {
      await recordExpiryNotice(
        tx,
        overdue,
        {
          status: 'sent',
          channel: message.from_number.startsWith('whatsapp:') ? 'whatsapp' : 'sms',
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
    const checkOptions = { ...proofCheck, nearCopyLockHeld: nearCopyLock };
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
      // after the near-copy lock was taken (above) and so sees every earlier proof.
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
    );
    // A habit's occurrence: the reply says the streak it is on now.
    const streak = task.habit_id === null ? '' : await streakAfterProof(tx, task.habit_id);
    return replyTexts.completed(task, task.points, total) + streak;
  }
  if (stored.some((item) => item.key !== undefined || item.error !== undefined)) {
    // Audio, a PDF, a video: never proof, whatever the caption says.
    await recordNotAPhoto(tx, message.id, stored);
    return replyTexts.notAPhoto();
  }
  const now = options.clock?.() ?? new Date();
  const context = {
    tx,
    user,
    message,
    now,
    timeZone: zone(user),
    defaultTimezone: options.defaultTimezone ?? 'UTC',
    reminderOffsets: options.reminderOffsets ?? DEFAULT_REMINDER_OFFSETS,
    pointsPerTask: options.pointsPerTask ?? DEFAULT_POINTS_PER_TASK,
    pauseMaxDaysPer30: options.pauseMaxDaysPer30,
    appBaseUrl: options.appBaseUrl,
  };
  const answer = await runCommand(context, message.body);
  if (answer !== null) return answer;
  return plainTextReply(await findActiveTaskForUser(tx, user.id), zone(user));
}
