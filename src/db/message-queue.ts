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

/** The reply to an inbound message (src/services/accountability.ts), recorded as it is marked done. */
export interface InboundReply {
  kind: 'reply';
  inboundMessageId: number;
  userId: number | null;
  to: string;
  from: string;
  body: string;
}

const markProcessedSet = `processing_status = 'processed', processed = true, processed_at = now(),
         locked_until = NULL, storage_urls = $3::jsonb, stored_media = $4::jsonb, error = $5`;

const markProcessedSql = `UPDATE messages SET ${markProcessedSet} WHERE ${inboundQueue.held()} RETURNING id`;

// The same UPDATE and, only when it kept the claim, the reply inserted as enqueueOutbound
// (src/db/outbound.ts) inserts one: one round trip instead of two. Without a NOTIFY: the
// caller wakes the senders once the transaction committed (processInboundJob's
// repliesQueued), so this commit does not take Postgres's notification lock.
const markProcessedWithReplySql = `
WITH processed AS (
  UPDATE messages SET ${markProcessedSet} WHERE ${inboundQueue.held()} RETURNING id
),
reply AS (
  INSERT INTO outbound_messages (kind, inbound_message_id, user_id, to_number, from_number, body)
  SELECT 'reply', processed.id, $6::bigint, $7, $8, $9 FROM processed
  ON CONFLICT (inbound_message_id, kind) WHERE inbound_message_id IS NOT NULL DO NOTHING
  RETURNING id
)
SELECT processed.id FROM processed`;

/**
 * Marks the message done and, given one, records its reply (at most one per message, as
 * enqueueOutbound). False when the claim was lost (another worker took over): then
 * nothing was written.
 */
export async function markProcessed(
  db: Queryable,
  claim: Claim,
  outcome: ProcessedOutcome,
  reply?: InboundReply,
): Promise<boolean> {
  if (reply && reply.inboundMessageId !== claim.id) {
    throw new TypeError('markProcessed: the reply must answer the claimed message');
  }
  const params: unknown[] = [
    claim.id,
    claim.claims,
    JSON.stringify(outcome.storageUrls),
    JSON.stringify(outcome.storedMedia),
    outcome.error,
  ];
  const rows = reply
    ? await db.query(markProcessedWithReplySql, [
        ...params,
        reply.userId,
        reply.to,
        reply.from,
        reply.body,
      ])
    : await db.query(markProcessedSql, params);
  return rows.length > 0;
}

// markProcessed with a reply, for many text messages (no media, no item errors) in one
// statement: each kept claim marked processed and answered, a lost one left untouched.
const markTextsProcessedSql = `
WITH done AS (
  SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[])
    AS d(id, claims, user_id, to_number, from_number, body)
),
processed AS (
  UPDATE messages AS m SET processing_status = 'processed', processed = true, processed_at = now(),
         locked_until = NULL, storage_urls = '[]'::jsonb, stored_media = '[]'::jsonb, error = NULL
  FROM done d
  WHERE m.id = d.id AND m.claims = d.claims AND m.processing_status = 'processing'
  RETURNING m.id
),
reply AS (
  INSERT INTO outbound_messages (kind, inbound_message_id, user_id, to_number, from_number, body)
  SELECT 'reply', d.id, d.user_id, d.to_number, d.from_number, d.body
  FROM done d JOIN processed p ON p.id = d.id
  ORDER BY d.id
  ON CONFLICT (inbound_message_id, kind) WHERE inbound_message_id IS NOT NULL DO NOTHING
  RETURNING id
)
SELECT processed.id FROM processed`;

/**
 * markProcessed for text messages answered together (src/services/plain-texts.ts): one
 * statement for all of them. Returns the ids whose claims were kept; the others were
 * taken over by another worker, and nothing was written for them.
 */
export async function markTextsProcessed(
  db: Queryable,
  answered: readonly { claim: Claim; reply: InboundReply }[],
): Promise<Set<number>> {
  if (answered.length === 0) return new Set();
  for (const { claim, reply } of answered) {
    if (reply.inboundMessageId !== claim.id) {
      throw new TypeError('markTextsProcessed: each reply must answer its claimed message');
    }
  }
  const rows = await db.query<{ id: number }>(markTextsProcessedSql, [
    answered.map(({ claim }) => claim.id),
    answered.map(({ claim }) => claim.claims),
    answered.map(({ reply }) => reply.userId),
    answered.map(({ reply }) => reply.to),
    answered.map(({ reply }) => reply.from),
    answered.map(({ reply }) => reply.body),
  ]);
  return new Set(rows.map((row) => row.id));
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
