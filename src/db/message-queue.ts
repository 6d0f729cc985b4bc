import type { MessageRow, StoredMedia } from '../domain/message.js';
import type { Queryable } from './executor.js';
import { type Claim, type QueueTable, defineQueueTable } from './queue-table.js';
import { INBOUND_CHANNEL, messageColumns } from './messages.js';

/**
 * The processing queue is the messages table itself (see src/db/queue-table.ts): a stored
 * message IS its job (processing_status 'pending'), so the webhook needs no second write.
 */
export const inboundQueue: QueueTable<ClaimedMessage> = defineQueueTable<ClaimedMessage>({
  name: 'inbound',
  table: 'messages',
  channel: INBOUND_CHANNEL,
  status: {
    column: 'processing_status',
    pending: 'pending',
    running: 'processing',
    failed: 'failed',
  },
  columns: messageColumns,
  errorColumns: { message: 'error' },
});

export interface ClaimedMessage extends MessageRow {
  /** The attempt number of this claim (1 for the first). */
  attempts: number;
  /** This claim's fencing token. */
  claims: number;
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
     WHERE ${inboundQueue.held()}
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
    await inboundQueue.notify(db);
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
