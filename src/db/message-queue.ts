import type { MessageRow, StoredMedia } from '../domain/message.js';
import type { Queryable } from './executor.js';
import { INBOUND_CHANNEL, messageColumns } from './messages.js';

/**
 * The processing queue is the messages table itself: a stored message IS its job
 * (processing_status 'pending'), so the message and its job can never disagree and the
 * webhook needs no second write. Workers claim with FOR UPDATE SKIP LOCKED, so two
 * workers (in one process or many) never take the same message. A claim is a lease:
 * if the worker dies, the message becomes claimable again when `locked_until` passes.
 * `claims` is the fencing token: only the holder of the latest claim may finish or
 * reschedule the message.
 */

export interface ClaimedMessage extends MessageRow {
  /** The attempt number of this claim (1 for the first). */
  attempts: number;
  /** This claim's fencing token. */
  claims: number;
}

/** What identifies one claim of one message. */
export interface Claim {
  id: number;
  claims: number;
}

const claimSql = `
UPDATE messages AS m
SET processing_status = 'processing',
    attempts = m.attempts + 1,
    claims = m.claims + 1,
    locked_until = now() + make_interval(secs => $2::double precision / 1000)
FROM (
  SELECT id FROM messages
  WHERE processing_status IN ('pending', 'processing')
    AND run_at <= now()
    AND (processing_status = 'pending' OR locked_until < now())
  ORDER BY run_at, id
  LIMIT $1
  FOR UPDATE SKIP LOCKED
) AS due
WHERE m.id = due.id
RETURNING ${messageColumns.replace(/(\w+)/g, 'm.$1')}, m.claims`;

export async function claimDueMessages(
  db: Queryable,
  limit: number,
  leaseMs: number,
): Promise<ClaimedMessage[]> {
  return db.query<ClaimedMessage>(claimSql, [limit, leaseMs]);
}

export interface ProcessedOutcome {
  storageUrls: string[];
  storedMedia: StoredMedia[];
  /** Item-level problems that did not stop processing (e.g. one photo too large). */
  error: string | null;
}

/** Marks the message done. False when the claim was lost (another worker took over). */
export async function markProcessed(
  db: Queryable,
  claim: Claim,
  outcome: ProcessedOutcome,
): Promise<boolean> {
  const rows = await db.query(
    `UPDATE messages
     SET processing_status = 'processed', processed = true, processed_at = now(),
         locked_until = NULL, storage_urls = $3::jsonb, stored_media = $4::jsonb, error = $5
     WHERE id = $1 AND claims = $2 AND processing_status = 'processing'
     RETURNING id`,
    [
      claim.id,
      claim.claims,
      JSON.stringify(outcome.storageUrls),
      JSON.stringify(outcome.storedMedia),
      outcome.error,
    ],
  );
  return rows.length > 0;
}

/**
 * Records a failed attempt: back to 'pending' to run again after `retryInMs`, or
 * 'failed' for good when `final`. The last error is kept either way.
 */
export async function markAttemptFailed(
  db: Queryable,
  claim: Claim,
  failure: { error: string; final: boolean; retryInMs: number },
): Promise<boolean> {
  const rows = await db.query(
    `UPDATE messages
     SET processing_status = CASE WHEN $3 THEN 'failed' ELSE 'pending' END,
         run_at = now() + make_interval(secs => $4::double precision / 1000),
         locked_until = NULL, error = $5
     WHERE id = $1 AND claims = $2 AND processing_status = 'processing'
     RETURNING id`,
    [claim.id, claim.claims, failure.final, failure.retryInMs, failure.error],
  );
  return rows.length > 0;
}

/**
 * Queues a message again (POST /messages/{id}/reprocess): a failed or processed message
 * goes back to 'pending' with a fresh set of attempts. A message being worked on right
 * now is left alone (null).
 */
export async function requeueMessage(db: Queryable, id: number): Promise<MessageRow | null> {
  const rows = await db.query<MessageRow>(
    `UPDATE messages
     SET processing_status = 'pending', attempts = 0, run_at = now(), locked_until = NULL
     WHERE id = $1 AND processing_status IN ('failed', 'processed', 'pending')
     RETURNING ${messageColumns}`,
    [id],
  );
  if (rows.length > 0) {
    await db.query(`SELECT pg_notify($1, '')`, [INBOUND_CHANNEL]);
  }
  return rows[0] ?? null;
}

/** Messages waiting to be processed (for readiness and metrics). */
export async function queueDepth(db: Queryable): Promise<number> {
  const rows = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM messages WHERE processing_status IN ('pending', 'processing')`,
  );
  return rows[0]?.n ?? 0;
}

/**
 * Renews a claim while its work is still running, so a slow download (a large photo, a
 * stalled CDN) is not taken over by another worker. False once the claim is lost.
 */
export async function extendMessageLease(
  db: Queryable,
  claim: Claim,
  leaseMs: number,
): Promise<boolean> {
  const rows = await db.query(
    `UPDATE messages SET locked_until = now() + make_interval(secs => $3::double precision / 1000)
     WHERE id = $1 AND claims = $2 AND processing_status = 'processing'
     RETURNING id`,
    [claim.id, claim.claims, leaseMs],
  );
  return rows.length > 0;
}
