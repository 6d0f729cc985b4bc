import type { Queryable } from './executor.js';
import { cancelStagesSql } from './reminder-stages-sql.js';

/** A row of `pauses` (see migration 0012): local days first_day..last_day, both included. */
export interface PauseRow {
  id: number;
  created_at: Date;
  user_id: number;
  first_day: string;
  last_day: string;
  starts_at: Date;
  ends_at: Date;
  resumed_at: Date | null;
}

const columns = `id, created_at, user_id, to_char(first_day, 'YYYY-MM-DD') AS first_day,
  to_char(last_day, 'YYYY-MM-DD') AS last_day, starts_at, ends_at, resumed_at`;

export interface NewPause {
  userId: number;
  firstDay: string;
  lastDay: string;
  startsAt: Date;
  endsAt: Date;
  messageId: number | null;
}

/**
 * Records a pause and takes the person's habit occurrences due within it out (cancelled,
 * `paused_by` it, their stages cancelled), in one statement. A message processed again
 * finds the pause it created (`created: false`).
 */
export async function insertPause(
  tx: Queryable,
  pause: NewPause,
  now: Date,
): Promise<{ pause: PauseRow; created: boolean }> {
  const rows = await tx.query<PauseRow>(
    `WITH pause AS (
       INSERT INTO pauses (user_id, first_day, last_day, starts_at, ends_at, created_by_message_id)
       VALUES ($1, $2::date, $3::date, $4::timestamptz, $5::timestamptz, $6)
       ON CONFLICT (created_by_message_id) DO NOTHING
       RETURNING ${columns}
     ),
     task AS (
       UPDATE tasks t SET status = 'cancelled', paused_by = pause.id FROM pause
       WHERE t.user_id = pause.user_id AND t.habit_id IS NOT NULL AND t.status = 'active'
         AND t.due_time >= pause.starts_at AND t.due_time < pause.ends_at
       RETURNING t.id, t.status
     ),
     ${cancelStagesSql(`'The person paused.'`, '$7::timestamptz')}
     SELECT * FROM pause`,
    [
      pause.userId,
      pause.firstDay,
      pause.lastDay,
      pause.startsAt,
      pause.endsAt,
      pause.messageId,
      now,
    ],
  );
  if (rows[0]) return { pause: rows[0], created: true };
  const existing = await tx.query<PauseRow>(
    `SELECT ${columns} FROM pauses WHERE created_by_message_id = $1`,
    [pause.messageId],
  );
  if (!existing[0]) throw new Error('the pause of this message is neither new nor stored');
  return { pause: existing[0], created: false };
}

/** The person's pause in force at `at`, if any (the latest-ending). */
export async function pauseInForce(
  db: Queryable,
  userId: number,
  at: Date,
): Promise<PauseRow | null> {
  const rows = await db.query<PauseRow>(
    `SELECT ${columns} FROM pauses
     WHERE user_id = $1 AND starts_at <= $2::timestamptz AND ends_at > $2::timestamptz
     ORDER BY ends_at DESC LIMIT 1`,
    [userId, at],
  );
  return rows[0] ?? null;
}

/** Each of `userIds`' pause in force at `at` (the latest-ending), for GET /users. */
export async function pausesInForce(
  db: Queryable,
  userIds: readonly number[],
  at: Date,
): Promise<Map<number, PauseRow>> {
  const rows = await db.query<PauseRow>(
    `SELECT DISTINCT ON (user_id) ${columns} FROM pauses
     WHERE user_id = ANY ($1::bigint[]) AND starts_at <= $2::timestamptz
       AND ends_at > $2::timestamptz
     ORDER BY user_id, ends_at DESC`,
    [userIds, at],
  );
  return new Map(rows.map((row) => [Number(row.user_id), row]));
}

/** True when an instant falls within one of the person's pauses. */
export async function isPausedAt(db: Queryable, userId: number, at: Date): Promise<boolean> {
  const rows = await db.query<{ paused: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pauses
       WHERE user_id = $1 AND starts_at <= $2::timestamptz AND ends_at > $2::timestamptz
     ) AS paused`,
    [userId, at],
  );
  return rows[0]?.paused === true;
}

/** The person's pauses ending after `since` (and not emptied by `resume`), by start. */
export const pausesSince = (db: Queryable, userId: number, since: Date): Promise<PauseRow[]> =>
  db.query<PauseRow>(
    `SELECT ${columns} FROM pauses
     WHERE user_id = $1 AND ends_at > $2::timestamptz AND last_day >= first_day
     ORDER BY starts_at, id`,
    [userId, since],
  );

/**
 * Ends a pause at `now` (`resume`): its last paused day becomes `lastDay` (before its first
 * day when nothing of it was used), and the occurrences it took out that are still ahead
 * become active again with their stages rescheduled by the caller.
 */
export async function endPause(
  tx: Queryable,
  id: number,
  change: { now: Date; lastDay: string },
): Promise<{ reactivatedTaskIds: number[] }> {
  await tx.query(
    `UPDATE pauses SET ends_at = GREATEST(starts_at, $2::timestamptz), last_day = $3::date,
       resumed_at = $2::timestamptz
     WHERE id = $1`,
    [id, change.now, change.lastDay],
  );
  const rows = await tx.query<{ id: number }>(
    `SELECT id FROM tasks WHERE paused_by = $1 AND status = 'cancelled'
       AND due_time > $2::timestamptz`,
    [id, change.now],
  );
  return { reactivatedTaskIds: rows.map((row) => Number(row.id)) };
}

/** Deletes a pause (`undo` of `pause`); the caller gives back what it took out. */
export async function deletePause(tx: Queryable, id: number): Promise<PauseRow | null> {
  const rows = await tx.query<PauseRow>(`DELETE FROM pauses WHERE id = $1 RETURNING ${columns}`, [
    id,
  ]);
  return rows[0] ?? null;
}

/** The occurrences pause `id` took out that are still due after `now`. */
export const pausedTaskIds = async (tx: Queryable, id: number, now: Date): Promise<number[]> =>
  (
    await tx.query<{ id: number }>(
      `SELECT id FROM tasks WHERE paused_by = $1 AND status = 'cancelled'
         AND due_time > $2::timestamptz`,
      [id, now],
    )
  ).map((row) => Number(row.id));
