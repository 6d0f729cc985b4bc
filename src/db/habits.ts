import type { HabitRow, Occurrence, OccurrenceOutcome } from '../domain/habit.js';
import type { TaskRow } from '../domain/task.js';
import type { Queryable } from './executor.js';
import { cancelStagesSql, scheduleStagesSql } from './reminder-stages-sql.js';
import { type StageSchedule, taskColumns } from './tasks.js';

export const habitColumns = `id, created_at, user_id, description, schedule_text, rrule, local_time,
  time_zone, weekly_quota, points, status, cancelled_at, to_char(next_local_date, 'YYYY-MM-DD')
  AS next_local_date, next_due_at, next_opens_at, group_id`;

export interface NewHabit {
  user_id: number;
  description: string;
  schedule_text: string;
  rrule: string;
  local_time: string;
  time_zone: string;
  weekly_quota: number | null;
  points: number;
  /** The command's message: one habit per message however often it is processed. */
  messageId: number | null;
  first: Occurrence | null;
  /** The clock's now: the rule's intervals count from this local date (ruleOf). */
  createdAt: Date;
  /** One of the owner's groups; null or absent: the database picks (migration 0015). */
  group_id?: number | null;
}

/**
 * Inserts a habit with its first occurrence still to create; null when there is no user
 * `user_id`. With a message, a message processed again finds the habit it created first
 * (`created: false`).
 */
export async function insertHabit(
  db: Queryable,
  habit: NewHabit,
): Promise<{ habit: HabitRow; created: boolean } | null> {
  const rows = await db.query<HabitRow>(
    `INSERT INTO habits (user_id, description, schedule_text, rrule, local_time, time_zone,
       weekly_quota, points, created_by_message_id, next_local_date, next_due_at, next_opens_at,
       created_at, group_id)
     SELECT id, $2, $3, $4, $5, $6, $7, $8, $9, $10::date, $11::timestamptz, $12::timestamptz,
       $13::timestamptz, $14::bigint
     FROM users WHERE id = $1
     ON CONFLICT (created_by_message_id) DO NOTHING
     RETURNING ${habitColumns}`,
    [
      habit.user_id,
      habit.description,
      habit.schedule_text,
      habit.rrule,
      habit.local_time,
      habit.time_zone,
      habit.weekly_quota,
      habit.points,
      habit.messageId,
      habit.first?.localDate ?? null,
      habit.first?.dueAt ?? null,
      habit.first?.opensAt ?? null,
      habit.createdAt,
      habit.group_id ?? null,
    ],
  );
  if (rows[0]) return { habit: rows[0], created: true };
  if (habit.messageId === null) return null;
  const existing = await db.query<HabitRow>(
    `SELECT ${habitColumns} FROM habits WHERE created_by_message_id = $1`,
    [habit.messageId],
  );
  return existing[0] ? { habit: existing[0], created: false } : null;
}

export async function findHabitById(db: Queryable, id: number): Promise<HabitRow | null> {
  const rows = await db.query<HabitRow>(`SELECT ${habitColumns} FROM habits WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** A person's habits (active first, then by id), as `habits` numbers them: h1, h2 ... */
export const habitsOfUser = (
  db: Queryable,
  userId: number,
  options: { activeOnly: boolean },
): Promise<HabitRow[]> =>
  db.query<HabitRow>(
    `SELECT ${habitColumns} FROM habits
     WHERE user_id = $1 AND ($2::boolean IS FALSE OR status = 'active')
     ORDER BY status = 'active' DESC, id`,
    [userId, options.activeOnly],
  );

/** The habits of several people (the leaderboard's), any status, by id. */
export const habitsOfUsers = (db: Queryable, userIds: readonly number[]): Promise<HabitRow[]> =>
  db.query<HabitRow>(
    `SELECT ${habitColumns} FROM habits WHERE user_id = ANY ($1::bigint[]) ORDER BY id`,
    [userIds],
  );

/** Every habit, optionally of one user, by id. */
export async function listHabits(
  db: Queryable,
  query: { userId: number | null; limit: number; offset: number },
): Promise<{ items: HabitRow[]; total: number }> {
  const items = await db.query<HabitRow>(
    `SELECT ${habitColumns} FROM habits WHERE ($1::bigint IS NULL OR user_id = $1)
     ORDER BY id LIMIT $2 OFFSET $3`,
    [query.userId, query.limit, query.offset],
  );
  const [count] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM habits WHERE ($1::bigint IS NULL OR user_id = $1)`,
    [query.userId],
  );
  return { items, total: count?.total ?? 0 };
}

export interface HabitChanges {
  description?: string;
  schedule?: {
    schedule_text: string;
    rrule: string;
    local_time: string;
    weekly_quota: number | null;
    first: Occurrence | null;
  };
  points?: number;
}

/** Changes a habit; occurrences already created keep their due times. Null if none. */
export async function updateHabit(
  db: Queryable,
  id: number,
  changes: HabitChanges,
): Promise<HabitRow | null> {
  const values: unknown[] = [id];
  const assignments: string[] = [];
  const set = (column: string, value: unknown, cast = '') => {
    values.push(value);
    assignments.push(`${column} = $${values.length}${cast}`);
  };
  if (changes.description !== undefined) set('description', changes.description);
  if (changes.points !== undefined) set('points', changes.points);
  if (changes.schedule) {
    set('schedule_text', changes.schedule.schedule_text);
    set('rrule', changes.schedule.rrule);
    set('local_time', changes.schedule.local_time);
    set('weekly_quota', changes.schedule.weekly_quota);
    set('next_local_date', changes.schedule.first?.localDate ?? null, '::date');
    set('next_due_at', changes.schedule.first?.dueAt ?? null, '::timestamptz');
    set('next_opens_at', changes.schedule.first?.opensAt ?? null, '::timestamptz');
  }
  if (assignments.length === 0) return findHabitById(db, id);
  const rows = await db.query<HabitRow>(
    `UPDATE habits SET ${assignments.join(', ')} WHERE id = $1 RETURNING ${habitColumns}`,
    values,
  );
  return rows[0] ?? null;
}

/**
 * Moves a habit to another group with its occurrences still open (active): proofs already
 * sent, completed or waiting for review stay in the group that saw them, with their points.
 */
export async function moveHabitToGroup(db: Queryable, id: number, groupId: number): Promise<void> {
  await db.query(
    `WITH habit AS (UPDATE habits SET group_id = $2 WHERE id = $1 RETURNING id)
     UPDATE tasks SET group_id = $2 FROM habit
     WHERE tasks.habit_id = habit.id AND tasks.status = 'active'`,
    [id, groupId],
  );
}

/**
 * Cancels a habit and its active occurrences (their stages too), in one statement. Null
 * when it was not active.
 */
export async function cancelHabit(
  db: Queryable,
  id: number,
  now: Date,
  reason = `'The habit was cancelled.'`,
): Promise<HabitRow | null> {
  const rows = await db.query<HabitRow>(
    `WITH habit AS (
       UPDATE habits SET status = 'cancelled', cancelled_at = $2::timestamptz,
         next_opens_at = NULL
       WHERE id = $1 AND status = 'active'
       RETURNING ${habitColumns}
     ),
     task AS (
       UPDATE tasks SET status = 'cancelled' FROM habit
       WHERE tasks.habit_id = habit.id AND tasks.status = 'active'
       RETURNING tasks.id, tasks.status
     ),
     ${cancelStagesSql(reason, '$2::timestamptz')}
     SELECT * FROM habit`,
    [id, now],
  );
  return rows[0] ?? null;
}

/** Takes a cancelled habit back (`undo` of `cancel`): active again from its next date. */
export async function reactivateHabit(
  db: Queryable,
  id: number,
  next: Occurrence | null,
): Promise<HabitRow | null> {
  const rows = await db.query<HabitRow>(
    `UPDATE habits SET status = 'active', cancelled_at = NULL, next_local_date = $2::date,
       next_due_at = $3::timestamptz, next_opens_at = $4::timestamptz
     WHERE id = $1 AND status = 'cancelled' RETURNING ${habitColumns}`,
    [id, next?.localDate ?? null, next?.dueAt ?? null, next?.opensAt ?? null],
  );
  return rows[0] ?? null;
}

/** Deletes a habit and its occurrences not completed (`undo` of `habit`). */
export async function deleteHabit(db: Queryable, id: number): Promise<HabitRow | null> {
  await db.query(`DELETE FROM tasks WHERE habit_id = $1 AND status <> 'completed'`, [id]);
  const rows = await db.query<HabitRow>(
    `DELETE FROM habits WHERE id = $1 RETURNING ${habitColumns}`,
    [id],
  );
  return rows[0] ?? null;
}

/**
 * The next habit whose next occurrence opened by `now`, locked with SKIP LOCKED: any number
 * of job instances each take a different habit, and the unique occurrence key makes a
 * second creation of the same occurrence a no-op anyway.
 */
export async function claimHabitDue(tx: Queryable, now: Date): Promise<HabitRow | null> {
  const rows = await tx.query<HabitRow>(
    `SELECT ${habitColumns} FROM habits
     WHERE status = 'active' AND next_opens_at <= $1::timestamptz
     ORDER BY next_opens_at, id LIMIT 1
     FOR UPDATE SKIP LOCKED`,
    [now],
  );
  return rows[0] ?? null;
}

/** Moves a habit on to its following occurrence (null: the rule has no more). */
export async function advanceHabit(
  tx: Queryable,
  id: number,
  next: Occurrence | null,
): Promise<void> {
  await tx.query(
    `UPDATE habits SET next_local_date = $2::date, next_due_at = $3::timestamptz,
       next_opens_at = $4::timestamptz WHERE id = $1`,
    [id, next?.localDate ?? null, next?.dueAt ?? null, next?.opensAt ?? null],
  );
}

/**
 * Creates an occurrence's tasks (one, or a quota's slots) with their reminder stages; an
 * occurrence created before (another instance, a retry) is left as it is.
 */
export async function insertOccurrence(
  tx: Queryable,
  habit: HabitRow,
  occurrence: Occurrence,
  schedule: StageSchedule,
): Promise<TaskRow[]> {
  return tx.query<TaskRow>(
    `WITH task AS (
       INSERT INTO tasks (user_id, description, due_time, points, habit_id, occurrence_date,
         occurrence_slot)
       SELECT $1, $2, $3::timestamptz, $4, $5, $6::date, slot
       FROM generate_series(0, $7::int - 1) AS slot
       ON CONFLICT (habit_id, occurrence_date, occurrence_slot) WHERE habit_id IS NOT NULL
         DO NOTHING
       RETURNING ${taskColumns}
     ),
     ${scheduleStagesSql('$8', '$9::timestamptz')}
     SELECT * FROM task ORDER BY id`,
    [
      habit.user_id,
      habit.description,
      occurrence.dueAt,
      habit.points,
      habit.id,
      occurrence.localDate,
      habit.weekly_quota ?? 1,
      schedule.offsets,
      schedule.now,
    ],
  );
}

/** The outcomes streaks count, of the habits `habitIds`. */
export async function occurrenceOutcomes(
  db: Queryable,
  habitIds: readonly number[],
): Promise<Map<number, OccurrenceOutcome[]>> {
  const rows = await db.query<OccurrenceOutcome & { habit_id: number }>(
    `SELECT habit_id, to_char(occurrence_date, 'YYYY-MM-DD') AS occurrence_date, status
     FROM tasks WHERE habit_id = ANY ($1::bigint[])
     ORDER BY occurrence_date, occurrence_slot`,
    [habitIds],
  );
  const byHabit = new Map<number, OccurrenceOutcome[]>();
  for (const { habit_id, ...outcome } of rows) {
    const id = Number(habit_id);
    byHabit.set(id, [...(byHabit.get(id) ?? []), outcome]);
  }
  return byHabit;
}
