import type { Queryable } from './executor.js';

export type LiveKind = 'message' | 'outbound' | 'task' | 'post' | 'review' | 'user';

/** One change an open page should see (a row of live_events). */
export interface LiveEvent {
  id: number;
  kind: LiveKind;
  action: 'insert' | 'update' | 'delete';
  row_id: number;
  user_id: number | null;
  group_id: number | null;
  at: string;
}

interface Row {
  id: string | number;
  kind: LiveKind;
  action: LiveEvent['action'];
  row_id: string | number;
  user_id: string | number | null;
  group_id: string | number | null;
  created_at: Date | string;
}

const toEvent = (row: Row): LiveEvent => ({
  id: Number(row.id),
  kind: row.kind,
  action: row.action,
  row_id: Number(row.row_id),
  user_id: row.user_id === null ? null : Number(row.user_id),
  group_id: row.group_id === null ? null : Number(row.group_id),
  at: new Date(row.created_at).toISOString(),
});

/** The events after `afterId`, oldest first. */
export async function eventsAfter(
  db: Queryable,
  afterId: number,
  limit: number,
): Promise<LiveEvent[]> {
  const rows = await db.query<Row>(
    `SELECT id, kind, action, row_id, user_id, group_id, created_at
       FROM live_events WHERE id > $1 ORDER BY id LIMIT $2`,
    [afterId, limit],
  );
  return rows.map(toEvent);
}

/** The newest event's id (0 when there is none): where a fresh reader starts. */
export async function latestEventId(db: Queryable): Promise<number> {
  const rows = await db.query<{ id: string | number | null }>(
    'SELECT max(id) AS id FROM live_events',
  );
  return Number(rows[0]?.id ?? 0);
}

/** Forgets events older than `seconds` (a page away longer than that reloads its lists). */
export async function pruneEvents(db: Queryable, seconds: number): Promise<void> {
  await db.query(`DELETE FROM live_events WHERE created_at < now() - make_interval(secs => $1)`, [
    seconds,
  ]);
}
