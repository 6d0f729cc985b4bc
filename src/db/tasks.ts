import type { TaskRow, TaskStatus } from '../domain/task.js';
import type { Queryable } from './executor.js';
import {
  type FeedPostRow,
  type NewFeedPost,
  feedPostColumns,
  feedPostInsertSql,
  feedPostParams,
} from './feed.js';
import {
  type EarlierProof,
  type EarlierProofOptions,
  earlierProofQuery,
  type NearCopyLocks,
  nearCopyLockSql,
} from './proofs.js';
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

/** Marks an active task expired at `at`: its due time passed without a proof. */
export const expireTask = (db: Queryable, taskId: number, at: Date): Promise<TaskRow | null> =>
  closeActiveTask(db, taskId, 'expired', at);

/**
 * The user's most recent task, by due time, that a photo sent at `sentAt` came too late
 * for: completed or expired, or still active but already due then (held for an earlier
 * message, see expireOverdueAndLockProofTask).
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
  /** The tasks expired now, the latest due first (see expireOverdueAndLockProofTask). */
  expired: TaskRow[];
  /** The task the photo is proof for, locked (see findActiveTaskForUser); null: none. */
  task: TaskRow | null;
  /** The review rule (groups.review) of that task's group; null without either. */
  groupReview: string | null;
}

/**
 * Expires the user's active tasks that were already due when `proof` was sent (a photo
 * sent after the due time is no proof for them, even if the scheduler has not expired them
 * yet), and finds, as findActiveTaskForUser does, the task still open when it was sent,
 * with its group's review rule: one statement, one round trip. Call inside the proof's
 * transaction. The two never meet on a row: one takes tasks due before `sentAt`, the
 * other one due at or after.
 *
 * A task is left active while another message of the user sent before its due time is
 * still waiting to be processed, as the scheduler does (src/db/reminders.ts): that earlier
 * photo may be its proof, and a later photo processed first must not take that away.
 * With `nearCopyLocks`, also takes the near-copy check's locks (src/db/proofs.ts), after
 * the task's row lock as a separate statement would, and only when there is a task to prove.
 */
export async function expireOverdueAndLockProofTask(
  tx: Queryable,
  userId: number,
  proof: { messageId: number; sentAt: Date },
  now: Date,
  options: { nearCopyLocks: NearCopyLocks | null },
): Promise<ProofTask> {
  type Row = TaskRow & { proof_role: 'expired' | 'active'; group_review: string | null };
  const lock = nearCopyLockSql(`proof_role = 'active'`, options.nearCopyLocks, 4);
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
            ${lock.sql} AS near_copy_lock
     FROM found
     ORDER BY proof_role = 'active', due_time DESC, id DESC`,
    [userId, proof.sentAt, now, proof.messageId, ...lock.params],
  );
  const taskOf = ({ proof_role: _role, group_review: _review, ...task }: Row): TaskRow => task;
  const active = rows.find((row) => row.proof_role === 'active');
  return {
    expired: rows.filter((row) => row.proof_role === 'expired').map(taskOf),
    task: active ? taskOf(active) : null,
    groupReview: active?.group_review ?? null,
  };
}

/** What publishProofCompletingTask did. */
export type ProofPublication =
  /** Published: the task completed, its points added. */
  | {
      outcome: 'published';
      post: FeedPostRow;
      /** The owner's new points total; null when the task was no longer active. */
      total: number | null;
      /** The group the post belongs to, as groupOfPost (src/db/shares.ts) finds it. */
      group: ShareGroupRow | null;
    }
  /** The photo repeats this earlier proof (findEarlierProof): nothing was written. */
  | { outcome: 'repeat'; earlier: EarlierProof }
  /**
   * The task, the message or the photo's bytes have a post already (the feed's unique
   * indexes) that the check did not see: a re-processed message, or a worker racing with
   * the same bytes that committed while this statement waited. Nothing was written.
   */
  | { outcome: 'conflict' };

// The row of a check that did not run (a photo stored without its hashes).
const NO_EARLIER_PROOF = `SELECT NULL::bigint AS feed_id, NULL::timestamptz AS created_at,
  NULL::bigint AS user_id, NULL::text AS username, NULL::bigint AS task_id,
  NULL::text AS task_description, NULL::int AS distance, NULL::boolean AS exact WHERE false`;

/**
 * The proof check (findEarlierProof), then, only when it found no earlier proof,
 * insertFeedPost of a published post and, only when the post was inserted, the
 * completion of its task with its points added to its owner, with the post's group for sharing: one statement.
 * A re-processed message or a worker racing with the same bytes never completes a task or
 * awards its points twice (see ProofPublication).
 *
 * Call it with the near-copy locks taken by an earlier statement of the transaction
 * (expireOverdueAndLockProofTask): this statement's snapshot, taken when it starts, then
 * holds every post of a near copy's transaction that held them before.
 */
export async function publishProofCompletingTask(
  tx: Queryable,
  post: NewFeedPost & { task_id: number },
  check: Omit<EarlierProofOptions, 'excludeMessageId'>,
  at: Date = new Date(),
): Promise<ProofPublication> {
  // The post's values, then the completion time ($10), then the check's.
  const base = [...feedPostParams({ ...post, status: 'published' }), at];
  const earlier = post.proof
    ? earlierProofQuery(
        post.proof,
        { ...check, excludeMessageId: post.message_id ?? 0 },
        base.length,
      )
    : { sql: NO_EARLIER_PROOF, params: [] };
  type Row = FeedPostRow & {
    total: number | null;
    group_id: number | null;
    group_name: string;
    group_timezone: string | null;
    group_share: ShareGroupRow['share'];
    group_digest_hour: number | null;
  } & { [K in keyof EarlierProof as `earlier_${K}`]: EarlierProof[K] | null };
  const rows = await tx.query<Row>(
    `WITH earlier AS (
       ${earlier.sql}
     ),
     post AS (
       ${feedPostInsertSql(`${feedPostColumns}, group_id`, 'NOT EXISTS (SELECT 1 FROM earlier)')}
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
            g.share AS group_share, g.digest_hour AS group_digest_hour,
            earlier.feed_id AS earlier_feed_id, earlier.created_at AS earlier_created_at,
            earlier.user_id AS earlier_user_id, earlier.username AS earlier_username,
            earlier.task_id AS earlier_task_id,
            earlier.task_description AS earlier_task_description,
            earlier.distance AS earlier_distance, earlier.exact AS earlier_exact
     FROM (SELECT 1) one
     LEFT JOIN earlier ON true
     LEFT JOIN post ON true
     LEFT JOIN tasks proved ON proved.id = post.task_id
     LEFT JOIN groups g ON g.id = COALESCE(post.group_id, proved.group_id,
                                           (SELECT id FROM groups WHERE is_default))`,
    [...base, ...earlier.params],
  );
  const row = rows[0];
  if (row?.earlier_feed_id != null) {
    return {
      outcome: 'repeat',
      earlier: {
        feed_id: row.earlier_feed_id,
        created_at: row.earlier_created_at as Date,
        user_id: row.earlier_user_id as number,
        username: row.earlier_username as string,
        task_id: row.earlier_task_id,
        task_description: row.earlier_task_description,
        distance: row.earlier_distance as number,
        exact: row.earlier_exact as boolean,
      },
    };
  }
  if (row?.id == null) return { outcome: 'conflict' };
  const published: FeedPostRow = {
    id: row.id,
    created_at: row.created_at,
    user_id: row.user_id,
    task_id: row.task_id,
    image_url: row.image_url,
    status: row.status,
    post_content: row.post_content,
    message_id: row.message_id,
  };
  return {
    outcome: 'published',
    post: published,
    total: row.total,
    group:
      row.group_id === null
        ? null
        : {
            id: row.group_id,
            name: row.group_name,
            timezone: row.group_timezone,
            share: row.group_share,
            digest_hour: row.group_digest_hour,
          },
  };
}
