import type { Queryable } from '../db/executor.js';
import type { ClaimedMessage, InboundReply } from '../db/message-queue.js';
import { enqueueOutbound } from '../db/outbound.js';
import { findActiveTaskForUser } from '../db/tasks.js';
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
import { recordNotAPhoto } from './proof-check.js';
import { runCommand } from './commands/index.js';
import { plainTextReply } from './plain-texts.js';
import { replyToPhoto } from './photo-proofs.js';
import { placeNewSender } from './groups.js';
import type { GroupNewsSettings } from './group-news.js';
import { personTimeZone } from './time-zones.js';
import { replyTexts } from './reply-texts.js';

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
  if (photo) return replyToPhoto(tx, message, photo, user, options);
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
