import type { Queryable } from './executor.js';

/** Unfinished jobs of one queue table: due now, waiting for a retry, or being worked on. */
export interface QueueDepth {
  queue: 'inbound' | 'outbound';
  /** Waiting and due: a worker would claim them now. */
  due: number;
  /** Waiting for a later retry (back-off). */
  scheduled: number;
  /** Claimed by a worker. */
  running: number;
}

/**
 * Both queues' depth, from the partial indexes on unfinished rows (cheap at scrape time:
 * finished rows are not in them).
 */
export async function queueDepths(db: Queryable): Promise<QueueDepth[]> {
  const rows = await db.query<{
    queue: 'inbound' | 'outbound';
    due: number;
    scheduled: number;
    running: number;
  }>(
    `SELECT 'inbound' AS queue,
            count(*) FILTER (WHERE processing_status = 'pending' AND run_at <= now())::int AS due,
            count(*) FILTER (WHERE processing_status = 'pending' AND run_at > now())::int AS scheduled,
            count(*) FILTER (WHERE processing_status = 'processing')::int AS running
     FROM messages WHERE processing_status IN ('pending', 'processing')
     UNION ALL
     SELECT 'outbound',
            count(*) FILTER (WHERE status = 'pending' AND run_at <= now())::int,
            count(*) FILTER (WHERE status = 'pending' AND run_at > now())::int,
            count(*) FILTER (WHERE status = 'submitting')::int
     FROM outbound_messages WHERE status IN ('pending', 'submitting')`,
  );
  return rows;
}

/** Outbound messages by status (`sent`, `delivered`, `failed`, …), and whether to the outbox. */
export async function outboundStatusCounts(
  db: Queryable,
): Promise<{ status: string; outbox: boolean; count: number }[]> {
  return db.query(
    `SELECT status, outbox, count(*)::int AS count FROM outbound_messages GROUP BY status, outbox`,
  );
}

/** When inbound messages were stored, by id, for reply latencies: one statement for many. */
export async function inboundReceivedAt(
  db: Queryable,
  ids: readonly number[],
): Promise<Map<number, Date>> {
  const rows = await db.query<{ id: number; created_at: Date }>(
    'SELECT id, created_at FROM messages WHERE id = ANY($1::bigint[])',
    [ids],
  );
  return new Map(rows.map((row) => [Number(row.id), row.created_at]));
}
