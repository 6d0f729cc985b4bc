import type { Queryable } from '../db/executor.js';
import {
  type EarlierProof,
  findEarlierProof,
  lockNearCopyChecks,
  type NearCopyLocks,
  nearCopyLocks,
  type ProofFingerprint,
  recordProofRejection,
} from '../db/proofs.js';
import type { ProofRejection, StoredMedia } from '../domain/message.js';
import type { TaskRow } from '../domain/task.js';
import type { UserRow } from '../domain/user.js';
import { replyTexts } from './reply-texts.js';
import { personTimeZone } from './time-zones.js';

/**
 * Proof checks (issue #7): a photo counts as proof once. Its exact bytes (SHA-256) and,
 * for a re-encoded or resized copy, its difference hash within PROOF_DUPLICATE_DISTANCE
 * bits are compared with the photos of every feed post, anyone's: user B re-sending user
 * A's proof is as much a repeat as A sending it twice. A rejected photo leaves the task
 * open, gets a reply that says why, and records why on the message for the API and the
 * dashboard (messages.proof_rejection).
 */

/** PROOF_DUPLICATE_DISTANCE's default, for callers that do not pass the configured value. */
export const DEFAULT_PROOF_DUPLICATE_DISTANCE = 6;

export interface ProofCheckOptions {
  /** PROOF_DUPLICATE_DISTANCE: 0 checks the exact bytes only. */
  maxDistance: number;
  /** TZ: the earlier proof's time is shown in it to users without their own time zone. */
  defaultTimezone?: string;
}

/** The photo's hashes, taken when it was copied; null for media stored without them. */
export function proofFingerprint(photo: StoredMedia): ProofFingerprint | null {
  return photo.sha256 ? { sha256: photo.sha256, dhash: photo.dhash ?? null } : null;
}

/**
 * The near-copy locks checking this photo takes (src/db/proofs.ts): none (null) for a
 * photo without a difference hash, or while near copies are not checked at all.
 */
export function nearCopyLocksFor(photo: StoredMedia, maxDistance: number): NearCopyLocks | null {
  const dhash = proofFingerprint(photo)?.dhash;
  return dhash && maxDistance > 0 ? nearCopyLocks(dhash, maxDistance) : null;
}

/**
 * Checks a photo about to complete `task`: when it repeats an earlier proof, records why
 * and resolves to the reply (the task stays open); otherwise clears any rejection an
 * earlier run of this message recorded and resolves to null.
 *
 * `recorded` is the message's proof_rejection as it was claimed: only this message's own
 * processing writes it, so when that is null and the photo passes there is nothing to
 * clear, and no statement is spent on it (every accepted photo would pay one). Absent:
 * cleared regardless. `nearCopyLockHeld`: the caller took the lock already, in a statement
 * that ended before this check starts (see nearCopyLockSql).
 *
 * Run it again when the feed post could not be inserted: a worker racing with the same
 * bytes committed first, and its post is visible now.
 */
export async function rejectRepeatedProof(
  tx: Queryable,
  proof: CheckedProof,
  options: ProofCheckOptions & { nearCopyLockHeld?: boolean },
): Promise<string | null> {
  const fingerprint = proofFingerprint(proof.photo);
  const locks = options.nearCopyLockHeld
    ? null
    : nearCopyLocksFor(proof.photo, options.maxDistance);
  if (locks) await lockNearCopyChecks(tx, locks);
  const earlier = fingerprint
    ? await findEarlierProof(tx, fingerprint, {
        maxDistance: options.maxDistance,
        excludeMessageId: proof.messageId,
      })
    : null;
  return settleProofCheck(tx, proof, earlier, options);
}

/** A photo about to complete `task`, as the proof check sees it. */
export interface CheckedProof {
  messageId: number;
  photo: StoredMedia;
  user: UserRow;
  task: TaskRow;
  /** The message's proof_rejection as it was claimed (see rejectRepeatedProof). */
  recorded?: ProofRejection | null;
}

/**
 * The end of rejectRepeatedProof, for a check that ran inside another statement
 * (publishProofCompletingTask): `earlier` is what it found. Records why the photo is a
 * repeat and resolves to the reply, or clears a rejection recorded before and resolves to
 * null.
 */
export async function settleProofCheck(
  tx: Queryable,
  proof: CheckedProof,
  earlier: EarlierProof | null,
  options: ProofCheckOptions,
): Promise<string | null> {
  if (earlier || proof.recorded !== null) {
    await recordProofRejection(tx, proof.messageId, earlier ? duplicateRejection(earlier) : null);
  }
  if (!earlier) return null;
  return replyTexts.duplicateProof(
    proof.task,
    {
      mine: earlier.user_id === proof.user.id,
      similar: !earlier.exact,
      taskDescription: earlier.task_description,
      at: earlier.created_at,
    },
    personTimeZone(proof.user, options.defaultTimezone),
  );
}

/** Records that a message with media but no image did not count as proof. */
export async function recordNotAPhoto(
  tx: Queryable,
  messageId: number,
  stored: StoredMedia[],
): Promise<void> {
  const kinds = stored.map((item) =>
    item.error === undefined
      ? (item.content_type ?? 'unknown type')
      : `${item.content_type ?? 'media'} that could not be stored (${item.error})`,
  );
  await recordProofRejection(tx, messageId, {
    reason: 'not_a_photo',
    message: `Not a photo: ${kinds.join(', ')}. Only a photo completes a task.`,
  });
}

function duplicateRejection(earlier: EarlierProof): ProofRejection {
  const task =
    earlier.task_id === null
      ? 'a deleted task'
      : `task #${earlier.task_id}${earlier.task_description ? ` "${earlier.task_description}"` : ''}`;
  const posted = earlier.created_at.toISOString().slice(0, 16).replace('T', ' ');
  const of = `the proof of ${task} by ${earlier.username}, posted ${posted} UTC (feed post #${earlier.feed_id})`;
  return {
    reason: earlier.exact ? 'duplicate_photo' : 'similar_photo',
    message: earlier.exact
      ? `Same photo as ${of}.`
      : `Near copy of ${of}: ${earlier.distance} of 64 bits of the difference hash differ.`,
    earlier: {
      feed_id: earlier.feed_id,
      task_id: earlier.task_id,
      user_id: earlier.user_id,
      username: earlier.username,
      posted_at: earlier.created_at.toISOString(),
      distance: earlier.distance,
    },
  };
}
