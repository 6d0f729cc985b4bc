import type { TaskRow, TaskStatus } from '../domain/task.js';
import type { Queryable } from './executor.js';
import {
  type FeedPostRow,
  type NewFeedPost,
  feedPostColumns,
  feedPostInsertSql,
  feedPostParams,
} from './feed.js';
import { nearCopyLockSql } from './proofs.js';
import type { ShareGroupRow } from './shares.js';
import { assignmentNoticeSql, cancelStagesSql, scheduleStagesSql } from './reminder-stages-sql.js';

export const taskColumns =
  'id, created_at, user_id, description, due_time, status, points, completed_at, expired_at, habit_id, group_id';

/** REMINDER_OFFSETS and the current time: what scheduling a task's reminder stages needs. */
export interface StageSchedule {
  offsets: readonly number[];
  now: Date;
}

/** A new task; values already parsed (see domain/task.ts). */
export interface NewTask {
  user_id: number;
  description: string;
  due_time: Date;
  points: number;
  /**
   * Tell the person: an `assignment` stage, due at once, that the reminder scheduler
   * decides like a reminder (see src/services/task-notices.ts). Default false.
   */
  notify?: boolean;
  /**
   * Its group (one of the user's, checked by the caller); absent or null: the database
   * picks the user's only group, else the default group (migration 0015).
   */
  group_id?: number | null;
}

/**
 * Inserts an active task with its reminder stages, in one statement; resolves to null
 * when there is no user `user_id`.
 */
export async function createTask(
  db: Queryable,
  task: NewTask,
  schedule: StageSchedule,
): Promise<TaskRow | null> {
  // INSERT ... SELECT FROM users: an unknown user gives no row rather than a foreign-key
  // error (which would abort the caller's transaction).
  const rows = await db.query<TaskRow>(
    `WITH task AS (
       INSERT INTO tasks (user_id, description, due_time, points, group_id)
       SELECT id, $2, $3::timestamptz, $4, $8::bigint FROM users WHERE id = $1
       RETURNING ${taskColumns}
     ),
     ${scheduleStagesSql('$5', '$6::timestamptz')},
     ${assignmentNoticeSql('$6::timestamptz', '$7::boolean')}
     SELECT * FROM task`,
    [
      task.user_id,
      task.description,
      task.due_time,
      task.points,
      schedule.offsets,
      schedule.now,
      task.notify === true,
      task.group_id ?? null,
    ],
  );
  return rows[0] ?? null;
}

export interface ListTasksQuery {
  limit: number;
  offset: number;
  userId: number | null;
  status: TaskStatus | null;
}

/** Tasks by due time (then id), optionally of one user and in one status. */
export async function listTasks(
  db: Queryable,
  query: ListTasksQuery,
): Promise<{ items: TaskRow[]; total: number }> {
  const conditions: string[] = [];
  const filters: unknown[] = [];
  if (query.userId !== null) {
    filters.push(query.userId);
    conditions.push(`user_id = $${filters.length}`);
  }
  if (query.status !== null) {
    filters.push(query.status);
    conditions.push(`status = $${filters.length}`);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const n = filters.length;
  const items = await db.query<TaskRow>(
    `SELECT ${taskColumns} FROM tasks ${where}
     ORDER BY due_time, id LIMIT $${n + 1} OFFSET $${n + 2}`,
    [...filters, query.limit, query.offset],
  );
  const [count] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM tasks ${where}`,
    filters,
  );
  return { items, total: count?.total ?? 0 };
}

export async function findTaskById(db: Queryable, id: number): Promise<TaskRow | null> {
  const rows = await db.query<TaskRow>(`SELECT ${taskColumns} FROM tasks WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** What an admin may change on an active task; an absent key is left as it is. */
export interface TaskChanges {
  description?: string;
  due_time?: Date;
  status?: 'cancelled';
}

export type UpdateTaskOutcome =
  | { outcome: 'updated'; task: TaskRow }
  /** The task is completed, expired or cancelled, and was left unchanged. */
  | { outcome: 'not_active'; status: TaskStatus }
  | { outcome: 'not_found' };

/**
 * Changes an active task. The status check and the update are one statement, so a task
 * completed by a photo at the same moment is never edited or cancelled afterwards. A new
 * due time reschedules the reminder stages not sent yet; cancelling cancels them.
 */
export async function updateActiveTask(
  db: Queryable,
  id: number,
  changes: TaskChanges,
  schedule: StageSchedule,
): Promise<UpdateTaskOutcome> {
  const assignments: string[] = [];
  const values: unknown[] = [id, schedule.now];
  const set = (column: string, value: unknown, cast = '') => {
    values.push(value);
    assignments.push(`${column} = $${values.length}${cast}`);
  };
  if (changes.description !== undefined) set('description', changes.description);
  if (changes.due_time !== undefined) set('due_time', changes.due_time, '::timestamptz');
  if (changes.status !== undefined) set('status', changes.status);
  if (assignments.length > 0) {
    const stages = [cancelStagesSql(`'The task was cancelled.'`, '$2::timestamptz')];
    if (changes.due_time !== undefined) {
      values.push(schedule.offsets);
      stages.push(scheduleStagesSql(`$${values.length}`, '$2::timestamptz'));
    }
    const rows = await db.query<TaskRow>(
      `WITH task AS (
         UPDATE tasks SET ${assignments.join(', ')} WHERE id = $1 AND status = 'active'
         RETURNING ${taskColumns}
       ),
       ${stages.join(',')}
       SELECT * FROM task`,
      values,
    );
    if (rows[0]) return { outcome: 'updated', task: rows[0] };
  }
  const current = await findTaskById(db, id);
  if (!current) return { outcome: 'not_found' };
  if (current.status !== 'active') return { outcome: 'not_active', status: current.status };
  return { outcome: 'updated', task: current };
}

/**
 * The task a user's proof completes: their active task due first (ties: the older one).
 * Locks it (`FOR UPDATE`), so call it inside a transaction and complete the task in that
 * same transaction: a second photo waits, then finds the next active task or none.
 */
export async function findActiveTaskForUser(
  tx: Queryable,
  userId: number,
  options: { dueNotBefore?: Date } = {},
): Promise<TaskRow | null> {
  const rows = await tx.query<TaskRow>(
    `SELECT ${taskColumns} FROM tasks
     WHERE user_id = $1 AND status = 'active'
       AND ($2::timestamptz IS NULL OR due_time >= $2::timestamptz)
     ORDER BY due_time, id
     LIMIT 1
     FOR UPDATE`,
    [userId, options.dueNotBefore ?? null],
  );
  return rows[0] ?? null;
}

/** How an active task closes: the column stamped, and why its pending stages are cancelled. */
const closings = {
  completed: { stamp: 'completed_at', reason: `'The task was completed.'` },
  expired: { stamp: 'expired_at', reason: `'The task expired first.'` },
} as const;

/**
 * Active → `status` at `at`, cancelling its pending reminder stages in the same statement.
 * Null when the task is not active (already completed, expired, cancelled) or does not exist.
 */
async function closeActiveTask(
  db: Queryable,
  taskId: number,
  status: keyof typeof closings,
  at: Date,
): Promise<TaskRow | null> {
  const { stamp, reason } = closings[status];
  const rows = await db.query<TaskRow>(
    `WITH task AS (
       UPDATE tasks SET status = '${status}', ${stamp} = $2::timestamptz
       WHERE id = $1 AND status = 'active'
       RETURNING ${taskColumns}
     ),
     ${cancelStagesSql(reason, '$2::timestamptz')}
     SELECT * FROM task`,
    [taskId, at],
  );
  return rows[0] ?? null;
}

/** Marks an active task completed at `at` (see closeActiveTask). */
export const completeTask = (
  db: Queryable,
  taskId: number,
  at: Date = new Date(),
): Promise<TaskRow | null> => closeActiveTask(db, taskId, 'completed', at);

/**
 * Completes an active task by its proof and adds the task's points to its owner, in one
 * statement (the proof's hot path: one round trip, not two). Resolves to the owner's new
 * points total, or null when the task was not active (nothing changed).
 */
export async function completeTaskWithPoints(
  db: Queryable,
  taskId: number,
  at: Date = new Date(),
): Promise<number | null> {
  const rows = await db.query<{ points: number }>(
    `WITH task AS (
       UPDATE tasks SET status = 'completed', completed_at = $2::timestamptz
       WHERE id = $1 AND status = 'active'
       RETURNING id, status, user_id, points
     ),
     ${cancelStagesSql(closings.completed.reason, '$2::timestamptz')},
     awarded AS (
       UPDATE users u SET points = u.points + task.points
       FROM task WHERE u.id = task.user_id
       RETURNING u.points
     )
     SELECT points FROM awarded`,
    [taskId, at],
  );
  return rows[0]?.points ?? null;
}

/** Marks an active task expired at `at`: its due time passed without a proof. */
export const expireTask = (db: Queryable, taskId: number, at: Date): Promise<TaskRow | null> =>
  closeActiveTask(db, taskId, 'expired', at);

/**
 * Expires the user's active tasks that were already due when `proof` was sent (a photo
 * sent after the due time is no proof for them, even if the scheduler has not expired them
 * yet), and returns them. Call inside the proof's transaction.
 *
 * A task is left active while another message of the user sent before its due time is
 * still waiting to be processed, as the scheduler does (src/db/reminders.ts): that earlier
 * photo may be its proof, and a later photo processed first must not take that away.
 */
export async function expireOverdueTasksOfUser(
  tx: Queryable,
  userId: number,
  proof: { messageId: number; sentAt: Date },
  now: Date,
): Promise<TaskRow[]> {
  return tx.query<TaskRow>(
    `WITH task AS (
       UPDATE tasks t SET status = 'expired', expired_at = $3::timestamptz
       WHERE t.user_id = $1 AND t.status = 'active' AND t.due_time < $2::timestamptz
         AND NOT EXISTS (
           SELECT 1 FROM users u JOIN messages m ON m.sender IN (u.phone_number, u.whatsapp_id)
           WHERE u.id = t.user_id AND m.id <> $4
             AND m.processing_status IN ('pending', 'processing')
             AND m.created_at <= t.due_time
         )
       RETURNING ${taskColumns}
     ),
     ${cancelStagesSql(closings.expired.reason, '$3::timestamptz')}
     SELECT * FROM task ORDER BY due_time DESC, id DESC`,
    [userId, proof.sentAt, now, proof.messageId],
  );
}

/**
 * The user's most recent task, by due time, that a photo sent at `sentAt` came too late
 * for: completed or expired, or still active but already due then (held for an earlier
 * message, see expireOverdueTasksOfUser).
 */
export async function latestPastTask(
  tx: Queryable,
  userId: number,
  sentAt: Date,
): Promise<TaskRow | null> {
  const rows = await tx.query<TaskRow>(
    `SELECT ${taskColumns} FROM tasks
     WHERE user_id = $1
       AND (status IN ('completed', 'expired') OR (status = 'active' AND due_time < $2::timestamptz))
     ORDER BY due_time DESC, id DESC LIMIT 1`,
    [userId, sentAt],
  );
  return rows[0] ?? null;
}

/** What a proof's transaction learns of the sender's tasks before it checks the photo. */
export interface ProofTask {
  /** The tasks expired now, the latest due first (see expireOverdueTasksOfUser). */
  expired: TaskRow[];
  /** The task the photo is proof for, locked (see findActiveTaskForUser); null: none. */
  task: TaskRow | null;
  /** The review rule (groups.review) of that task's group; null without either. */
  groupReview: string | null;
}

/**
 * expireOverdueTasksOfUser, then findActiveTaskForUser for a task still open when the proof
 * was sent, with the task's group's review rule: one statement, one round trip. The two
 * never meet on a row: one takes tasks due before `sentAt`, the other one due at or after.
 * With `nearCopyLock`, also takes the near-copy lock (src/db/proofs.ts), after the task's
 * row lock as a separate statement would, and only when there is a task to prove.
 */
export async function expireOverdueAndLockProofTask(
  tx: Queryable,
  userId: number,
  proof: { messageId: number; sentAt: Date },
  now: Date,
  options: { nearCopyLock: boolean },
): Promise<ProofTask> {
  type Row = TaskRow & { proof_role: 'expired' | 'active'; group_review: string | null };
  const rows = await tx.query<Row>(
    `WITH task AS (
       UPDATE tasks t SET status = 'expired', expired_at = $3::timestamptz
       WHERE t.user_id = $1 AND t.status = 'active' AND t.due_time < $2::timestamptz
         AND NOT EXISTS (
           SELECT 1 FROM users u JOIN messages m ON m.sender IN (u.phone_number, u.whatsapp_id)
           WHERE u.id = t.user_id AND m.id <> $4
             AND m.processing_status IN ('pending', 'processing')
             AND m.created_at <= t.due_time
         )
       RETURNING ${taskColumns}
     ),
     ${cancelStagesSql(closings.expired.reason, '$3::timestamptz')},
     active AS (
       SELECT ${taskColumns} FROM tasks
       WHERE user_id = $1 AND status = 'active' AND due_time >= $2::timestamptz
       ORDER BY due_time, id
       LIMIT 1
       FOR UPDATE
     ),
     found AS (
       SELECT 'expired' AS proof_role, task.*, NULL::text AS group_review FROM task
       UNION ALL
       SELECT 'active', active.*, g.review::text FROM active
       LEFT JOIN groups g ON g.id = active.group_id
     )
     SELECT ${taskColumns}, proof_role, group_review,
            ${nearCopyLockSql(`proof_role = 'active' AND $5::boolean`)} AS near_copy_lock
     FROM found
     ORDER BY proof_role = 'active', due_time DESC, id DESC`,
    [userId, proof.sentAt, now, proof.messageId, options.nearCopyLock],
  );
  const taskOf = ({ proof_role: _role, group_review: _review, ...task }: Row): TaskRow => task;
  const active = rows.find((row) => row.proof_role === 'active');
  return {
    expired: rows.filter((row) => row.proof_role === 'expired').map(taskOf),
    task: active ? taskOf(active) : null,
    groupReview: active?.group_review ?? null,
  };
}

/** A published proof, as publishProofCompletingTask resolves to it. */
export interface PublishedProof {
  post: FeedPostRow;
  /** The owner's new points total; null when the task was no longer active. */
  total: number | null;
  /** The group the post belongs to, as groupOfPost (src/db/shares.ts) finds it. */
  group: ShareGroupRow | null;
}

/**
 * insertFeedPost of a published proof and, only when the post was inserted,
 * completeTaskWithPoints of its task, with the post's group for sharing: one statement.
 * Null, changing nothing, when the task, the message or the photo's bytes already have a
 * post (the feed's unique indexes): a re-processed message, or a worker racing with the
 * same bytes that got there first, never completes a task or awards its points twice.
 */
export async function publishProofCompletingTask(
  tx: Queryable,
  post: NewFeedPost & { task_id: number },
  at: Date = new Date(),
): Promise<PublishedProof | null> {
  type Row = FeedPostRow & {
    total: number | null;
    group_id: number | null;
    group_name: string;
    group_timezone: string | null;
    group_share: ShareGroupRow['share'];
    group_digest_hour: number | null;
  };
  const rows = await tx.query<Row>(
    `WITH post AS (
       ${feedPostInsertSql(`${feedPostColumns}, group_id`)}
     ),
     task AS (
       UPDATE tasks t SET status = 'completed', completed_at = $10::timestamptz
       FROM post WHERE t.id = post.task_id AND t.status = 'active'
       RETURNING t.id, t.status, t.user_id, t.points
     ),
     ${cancelStagesSql(closings.completed.reason, '$10::timestamptz')},
     awarded AS (
       UPDATE users u SET points = u.points + task.points
       FROM task WHERE u.id = task.user_id
       RETURNING u.points
     )
     SELECT ${feedPostColumns.replace(/(\w+)/g, 'post.$1')}, (SELECT points FROM awarded) AS total,
            g.id AS group_id, g.name AS group_name, g.timezone AS group_timezone,
            g.share AS group_share, g.digest_hour AS group_digest_hour
     FROM post
     LEFT JOIN tasks proved ON proved.id = post.task_id
     LEFT JOIN groups g ON g.id = COALESCE(post.group_id, proved.group_id,
                                           (SELECT id FROM groups WHERE is_default))`,
    [...feedPostParams({ ...post, status: 'published' }), at],
  );
  const row = rows[0];
  if (!row) return null;
  const {
    total,
    group_id: groupId,
    group_name: name,
    group_timezone: timezone,
    group_share: share,
    group_digest_hour: digestHour,
    ...published
  } = row;
  return {
    post: published,
    total,
    group:
      groupId === null ? null : { id: groupId, name, timezone, share, digest_hour: digestHour },
  };
}
