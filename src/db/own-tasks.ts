import type { TaskRow } from '../domain/task.js';
import type { Queryable } from './executor.js';
import { scheduleStagesSql } from './reminder-stages-sql.js';
import { type NewTask, type StageSchedule, taskColumns } from './tasks.js';

/**
 * The tasks people manage themselves by WhatsApp: `new` creates one, `tasks` lists the
 * open ones (numbered), `cancel <n>` and `undo` take one back.
 */

/**
 * Inserts the task `new` asked for in message `messageId`, with its reminder stages, once
 * per message: the message re-delivered, retried or re-processed finds the task it created
 * the first time (`created: false`). Null when there is no user `user_id`.
 */
export async function createTaskOfMessage(
  tx: Queryable,
  task: NewTask & { messageId: number },
  schedule: StageSchedule,
): Promise<{ task: TaskRow; created: boolean } | null> {
  const rows = await tx.query<TaskRow>(
    `WITH task AS (
       INSERT INTO tasks (user_id, description, due_time, points, created_by_message_id)
       SELECT id, $2, $3::timestamptz, $4, $7 FROM users WHERE id = $1
       ON CONFLICT (created_by_message_id) DO NOTHING
       RETURNING ${taskColumns}
     ),
     ${scheduleStagesSql('$5', '$6::timestamptz')}
     SELECT * FROM task`,
    [
      task.user_id,
      task.description,
      task.due_time,
      task.points,
      schedule.offsets,
      schedule.now,
      task.messageId,
    ],
  );
  if (rows[0]) return { task: rows[0], created: true };
  const existing = await tx.query<TaskRow>(
    `SELECT ${taskColumns} FROM tasks WHERE created_by_message_id = $1`,
    [task.messageId],
  );
  return existing[0] ? { task: existing[0], created: false } : null;
}

/**
 * A person's active tasks as `tasks` numbers them: by due time, then id. `cancel <n>` reads
 * the same order, so number n is the task the list showed as n.
 */
export async function openTasksOfUser(
  db: Queryable,
  userId: number,
  page: { limit: number; offset: number },
): Promise<{ items: TaskRow[]; total: number }> {
  const items = await db.query<TaskRow>(
    `SELECT ${taskColumns} FROM tasks WHERE user_id = $1 AND status = 'active'
     ORDER BY due_time, id LIMIT $2 OFFSET $3`,
    [userId, page.limit, page.offset],
  );
  const [count] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM tasks WHERE user_id = $1 AND status = 'active'`,
    [userId],
  );
  return { items, total: count?.total ?? 0 };
}

/** The n-th (1-based) of a person's active tasks in `tasks` order, or null. */
export async function nthOpenTaskOfUser(
  db: Queryable,
  userId: number,
  n: number,
): Promise<TaskRow | null> {
  const { items } = await openTasksOfUser(db, userId, { limit: 1, offset: n - 1 });
  return items[0] ?? null;
}

/**
 * Makes a task `cancel` cancelled active again (`undo`), rescheduling its reminder stages
 * not sent yet, in one statement. Null unless it is cancelled and still due after `now`.
 */
export async function reactivateCancelledTask(
  tx: Queryable,
  taskId: number,
  schedule: StageSchedule,
): Promise<TaskRow | null> {
  const rows = await tx.query<TaskRow>(
    `WITH task AS (
       UPDATE tasks SET status = 'active'
       WHERE id = $1 AND status = 'cancelled' AND due_time > $2::timestamptz
       RETURNING ${taskColumns}
     ),
     ${scheduleStagesSql('$3', '$2::timestamptz')}
     SELECT * FROM task`,
    [taskId, schedule.now, schedule.offsets],
  );
  return rows[0] ?? null;
}
