import type { InboundMessage, MessageRow } from '../domain/message.js';
import type { Queryable } from './executor.js';

/**
 * NOTIFY channel on which new inbound messages are announced to workers. The inbound
 * store (src/start/inbound-store.ts) notifies after its inserts commit, throttled.
 */
export const INBOUND_CHANNEL = 'taskwire_inbound';

/**
 * One statement writes a whole batch of webhooks: arrays in, `unnest` into rows. The
 * statement text never changes with the batch size, so Postgres plans it once.
 * ON CONFLICT makes a re-delivered MessageSid a no-op, also when two copies race.
 * No pg_notify in here: a transaction that notifies takes Postgres's notification-queue
 * lock until its commit is flushed, so concurrent inserts could not share a WAL flush.
 */
const insertBatchSql = `
INSERT INTO messages (message_sid, from_number, to_number, body, num_media, media_items, sender, raw)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[],
                     $6::text[]::jsonb[], $7::text[], $8::text[]::jsonb[])
ON CONFLICT (message_sid) DO NOTHING
RETURNING id, message_sid`;

export interface InsertOutcome {
  /** Set when this call created the row; null for a re-delivery of a stored MessageSid. */
  id: number | null;
}

export async function insertMessages(
  db: Queryable,
  messages: readonly InboundMessage[],
): Promise<InsertOutcome[]> {
  const rows = await db.query<{ id: number; message_sid: string }>(insertBatchSql, [
    messages.map((m) => m.messageSid),
    messages.map((m) => m.from),
    messages.map((m) => m.to),
    messages.map((m) => m.body),
    messages.map((m) => m.numMedia),
    messages.map((m) => JSON.stringify(m.mediaItems)),
    messages.map((m) => m.sender),
    messages.map((m) => JSON.stringify(m.raw)),
  ]);
  const created = new Map(rows.map((row) => [row.message_sid, Number(row.id)]));
  // Only the first copy of a MessageSid within one batch counts as the one that created it.
  return messages.map((m) => {
    const id = created.get(m.messageSid);
    if (id === undefined) return { id: null };
    created.delete(m.messageSid);
    return { id };
  });
}

export const messageColumns = `id, message_sid, from_number, to_number, body, num_media, media_items,
  created_at, processed, storage_urls, sender, processing_status, attempts, error, processed_at, raw,
  stored_media, proof_rejection`;

export interface ListMessagesQuery {
  limit: number;
  offset: number;
  sender: string | null;
}

export async function listMessages(
  db: Queryable,
  query: ListMessagesQuery,
): Promise<{ items: MessageRow[]; total: number }> {
  const where = query.sender === null ? '' : 'WHERE sender = $3';
  const params: unknown[] = [query.limit, query.offset];
  if (query.sender !== null) params.push(query.sender);
  const items = await db.query<MessageRow>(
    `SELECT ${messageColumns} FROM messages ${where} ORDER BY id DESC LIMIT $1 OFFSET $2`,
    params,
  );
  const countParams = query.sender === null ? [] : [query.sender];
  const [count] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM messages ${query.sender === null ? '' : 'WHERE sender = $1'}`,
    countParams,
  );
  return { items, total: count?.total ?? 0 };
}

export async function findMessageById(db: Queryable, id: number): Promise<MessageRow | null> {
  const rows = await db.query<MessageRow>(`SELECT ${messageColumns} FROM messages WHERE id = $1`, [
    id,
  ]);
  return rows[0] ?? null;
}

export async function findMessageBySid(db: Queryable, sid: string): Promise<MessageRow | null> {
  const rows = await db.query<MessageRow>(
    `SELECT ${messageColumns} FROM messages WHERE message_sid = $1`,
    [sid],
  );
  return rows[0] ?? null;
}
