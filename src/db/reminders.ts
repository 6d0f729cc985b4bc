import type { ReminderChannel, ReminderRow, ReminderStatus } from '../domain/reminder.js';
import type { TaskRow } from '../domain/task.js';
import type { UserRow } from '../domain/user.js';
import type { Queryable } from './executor.js';
import { scheduleStagesSql } from './reminder-stages-sql.js';
import { taskColumns } from './tasks.js';

const reminderColumns = `id, task_id, kind, offset_minutes, send_at, status, channel, reason,
  outbound_message_id, decided_at`;

/** The stages and notices of each of `taskIds`, by task, in send order. */
export async function remindersOfTasks(
  db: Queryable,
  taskIds: readonly number[],
): Promise<Map<number, ReminderRow[]>> {
  const byTask = new Map<number, ReminderRow[]>(taskIds.map((id) => [id, []]));
  if (taskIds.length === 0) return byTask;
  const rows = await db.query<ReminderRow>(
    `SELECT ${reminderColumns} FROM task_reminders
     WHERE task_id = ANY($1::bigint[])
     ORDER BY task_id, send_at, offset_minutes DESC`,
    [taskIds],
  );
  for (const row of rows) byTask.get(Number(row.task_id))?.push(row);
  return byTask;
}

/** A task with the user it belongs to: what a reminder or notice needs to be addressed. */
export interface TaskWithUser {
  task: TaskRow;
  user: Pick<
    UserRow,
    | 'id'
    | 'username'
    | 'phone_number'
    | 'whatsapp_id'
    | 'timezone'
    | 'last_whatsapp_inbound_at'
    | 'opted_out_at'
  >;
}

/** The user columns of a task-with-user query, `u_`-prefixed for splitTaskUser. */
export const userFields = `u.id AS u_id, u.username AS u_username, u.phone_number AS u_phone_number,
  u.whatsapp_id AS u_whatsapp_id, u.timezone AS u_timezone,
  u.last_whatsapp_inbound_at AS u_last_whatsapp_inbound_at, u.opted_out_at AS u_opted_out_at`;

export type TaskUserRow = TaskRow & {
  u_id: number;
  u_username: string;
  u_phone_number: string | null;
  u_whatsapp_id: string | null;
  u_timezone: string | null;
  u_last_whatsapp_inbound_at: Date | null;
  u_opted_out_at: Date | null;
};

export const splitTaskUser = (row: TaskUserRow): TaskWithUser => {
  const {
    u_id,
    u_username,
    u_phone_number,
    u_whatsapp_id,
    u_timezone,
    u_last_whatsapp_inbound_at,
    u_opted_out_at,
    ...task
  } = row;
  return {
    task: task as TaskRow,
    user: {
      id: u_id,
      username: u_username,
      phone_number: u_phone_number,
      whatsapp_id: u_whatsapp_id,
      timezone: u_timezone,
      last_whatsapp_inbound_at: u_last_whatsapp_inbound_at,
      opted_out_at: u_opted_out_at,
    },
  };
};

/** The task columns, each qualified by `alias`. */
export const prefixed = (alias: string) =>
  taskColumns
    .split(',')
    .map((column) => `${alias}.${column.trim()}`)
    .join(', ');

/**
 * Locks the next active task due at or before `dueBy` (SKIP LOCKED: other workers take
 * the next one). A task whose user sent a message before the due time that is still being
 * processed is left for now: that message may be the proof, and it must win.
 */
export async function lockNextOverdueTask(
  tx: Queryable,
  dueBy: Date,
): Promise<TaskWithUser | null> {
  const rows = await tx.query<TaskUserRow>(
    `SELECT ${prefixed('t')}, ${userFields}
     FROM tasks t JOIN users u ON u.id = t.user_id
     WHERE t.status = 'active' AND t.due_time <= $1
       -- Nothing expires while its person is paused (see migration 0012): it may once
       -- the pause is over.
       AND NOT EXISTS (
         SELECT 1 FROM pauses p
         WHERE p.user_id = t.user_id AND p.starts_at <= $1 AND p.ends_at > $1
       )
       AND NOT EXISTS (
         SELECT 1 FROM messages m
         WHERE m.sender IN (u.phone_number, u.whatsapp_id)
           AND m.processing_status IN ('pending', 'processing')
           AND m.created_at <= t.due_time
       )
     ORDER BY t.due_time, t.id
     LIMIT 1
     FOR UPDATE OF t SKIP LOCKED`,
    [dueBy],
  );
  return rows[0] ? splitTaskUser(rows[0]) : null;
}

/** A reminder stage that is due, locked with its task, and what it needs to be sent. */
export interface DueStage extends TaskWithUser {
  stage: Pick<ReminderRow, 'id' | 'kind' | 'offset_minutes' | 'send_at'>;
}

/**
 * Locks the next due stage and its task (SKIP LOCKED on both: a task being completed or
 * expired right now is skipped, and its stage is cancelled by that transaction).
 */
export async function lockNextDueStage(tx: Queryable, now: Date): Promise<DueStage | null> {
  const rows = await tx.query<
    TaskUserRow & {
      r_id: number;
      r_kind: ReminderRow['kind'];
      r_offset_minutes: number;
      r_send_at: Date;
    }
  >(
    `SELECT r.id AS r_id, r.kind AS r_kind, r.offset_minutes AS r_offset_minutes, r.send_at AS r_send_at,
            ${prefixed('t')}, ${userFields}
     FROM task_reminders r
     JOIN tasks t ON t.id = r.task_id
     JOIN users u ON u.id = t.user_id
     WHERE r.status = 'pending' AND r.send_at <= $1
     ORDER BY r.send_at, r.id
     LIMIT 1
     FOR UPDATE OF r, t SKIP LOCKED`,
    [now],
  );
  const row = rows[0];
  if (!row) return null;
  const { r_id, r_kind, r_offset_minutes, r_send_at, ...rest } = row;
  return {
    ...splitTaskUser(rest),
    stage: { id: r_id, kind: r_kind, offset_minutes: r_offset_minutes, send_at: r_send_at },
  };
}

/**
 * The most urgent other stage of the task that is also due already (after downtime, or
 * when the scheduler fell behind): sending both at once would only be noise.
 */
export async function laterDueStage(
  tx: Queryable,
  taskId: number,
  offsetMinutes: number,
  now: Date,
): Promise<number | null> {
  const rows = await tx.query<{ offset_minutes: number }>(
    `SELECT offset_minutes FROM task_reminders
     WHERE task_id = $1 AND kind = 'reminder' AND status = 'pending'
       AND offset_minutes < $2 AND send_at <= $3
     ORDER BY offset_minutes LIMIT 1`,
    [taskId, offsetMinutes, now],
  );
  return rows[0]?.offset_minutes ?? null;
}

/** What became of a stage or notice. */
export interface StageDecision {
  status: Exclude<ReminderStatus, 'pending'>;
  channel: ReminderChannel | null;
  reason: string | null;
  outboundMessageId: number | null;
}

/** Records the decision on a pending stage; false if it was no longer pending. */
export async function decideStage(
  tx: Queryable,
  stageId: number,
  decision: StageDecision,
  at: Date,
): Promise<boolean> {
  const rows = await tx.query(
    `UPDATE task_reminders
     SET status = $2, channel = $3, reason = $4, outbound_message_id = $5, decided_at = $6::timestamptz
     WHERE id = $1 AND status = 'pending'
     RETURNING id`,
    [stageId, decision.status, decision.channel, decision.reason, decision.outboundMessageId, at],
  );
  return rows.length > 0;
}

/** Records the expiry notice of a task (at most one: unique per task, kind and offset). */
export async function recordExpiryNotice(
  tx: Queryable,
  task: Pick<TaskRow, 'id' | 'due_time'>,
  decision: StageDecision,
  at: Date,
): Promise<void> {
  await tx.query(
    `INSERT INTO task_reminders
       (task_id, kind, offset_minutes, send_at, status, channel, reason, outbound_message_id, decided_at)
     VALUES ($1, 'expiry', 0, $2::timestamptz, $3, $4, $5, $6, $7::timestamptz)
     ON CONFLICT (task_id, kind, offset_minutes) DO NOTHING`,
    [
      task.id,
      task.due_time,
      decision.status,
      decision.channel,
      decision.reason,
      decision.outboundMessageId,
      at,
    ],
  );
}

/**
 * Gives every active task not yet due the stages it lacks (tasks created before reminders
 * existed, or after REMINDER_OFFSETS gained a stage, or regained one) and cancels pending
 * stages that are no longer configured. Idempotent; run when a scheduler starts. All
 * instances should share one REMINDER_OFFSETS: each start applies its own.
 */
export async function backfillStages(
  db: Queryable,
  offsets: readonly number[],
  now: Date,
): Promise<void> {
  await db.query(
    `WITH task AS (
       SELECT ${taskColumns} FROM tasks WHERE status = 'active' AND due_time > $2::timestamptz
     ),
     ${scheduleStagesSql('$1', '$2::timestamptz', 'keep')}
     SELECT 1`,
    [offsets, now],
  );
}

/**
 * The WhatsApp number the user last wrote to: where a reminder comes from when
 * TWILIO_WHATSAPP_NUMBER is not set.
 */
export async function lastWhatsAppNumberWrittenTo(
  db: Queryable,
  user: Pick<UserRow, 'phone_number' | 'whatsapp_id'>,
): Promise<string | null> {
  const senders = [user.phone_number, user.whatsapp_id].filter((s): s is string => s !== null);
  if (senders.length === 0) return null;
  const rows = await db.query<{ to_number: string }>(
    `SELECT to_number FROM messages
     WHERE sender = ANY($1::text[]) AND to_number LIKE 'whatsapp:%'
     ORDER BY id DESC LIMIT 1`,
    [senders],
  );
  return rows[0]?.to_number ?? null;
}

/**
 * Withdraws a claimed reminder that is no longer right to send: its task was completed,
 * cancelled or expired, or its due time passed, while the message waited in the outbound
 * queue (a backlog, or retries after a Twilio 429/5xx); or the due time was edited after
 * the reminder was written, so it names the old time. The outbound message becomes
 * `canceled` with the reason; its stage `cancelled`, or, for an edited due time, scheduled
 * again for the new one (pending, or skipped when its time has passed). One statement; the
 * task row is share-locked so an edit in flight is seen once it commits.
 * Resolves to the reason, or null when the reminder is still right to send.
 */
export async function withdrawStaleReminder(
  db: Queryable,
  claim: { id: number; claims: number },
  now: Date,
): Promise<string | null> {
  const rows = await db.query<{ reason: string }>(
    `WITH stale AS (
       SELECT o.id, r.id AS stage_id,
              t.due_time - make_interval(mins => r.offset_minutes) AS new_send_at,
              (t.status = 'active' AND t.due_time > $3::timestamptz) AS moved,
              CASE
                WHEN t.status = 'completed' THEN 'Not sent: the task was completed before the reminder went out.'
                WHEN t.status = 'cancelled' THEN 'Not sent: the task was cancelled before the reminder went out.'
                WHEN t.status <> 'active' OR t.due_time <= $3::timestamptz
                  THEN 'Not sent: the due time passed before the reminder went out.'
                ELSE 'Not sent: the due time was changed after the reminder was written; rescheduled.'
              END AS reason
       FROM outbound_messages o
       JOIN tasks t ON t.id = o.task_id
       LEFT JOIN task_reminders r ON r.outbound_message_id = o.id
       WHERE o.id = $1 AND o.claims = $2 AND o.status = 'submitting' AND o.kind = 'reminder'
         AND (t.status <> 'active' OR t.due_time <= $3::timestamptz
              OR r.send_at <> t.due_time - make_interval(mins => r.offset_minutes))
       FOR SHARE OF t
     ),
     withdrawn AS (
       UPDATE outbound_messages o
       SET status = 'canceled', locked_until = NULL, error_message = stale.reason,
           status_updated_at = $3::timestamptz
       FROM stale WHERE o.id = stale.id
       RETURNING o.id, stale.reason
     ),
     stage AS (
       UPDATE task_reminders r
       SET status = CASE WHEN NOT stale.moved THEN 'cancelled'
                         WHEN stale.new_send_at > $3::timestamptz THEN 'pending'
                         ELSE 'skipped' END,
           reason = CASE WHEN NOT stale.moved THEN stale.reason
                         WHEN stale.new_send_at > $3::timestamptz THEN NULL
                         ELSE 'The due time was moved to less than ' || r.offset_minutes ||
                              ' minutes away before this reminder went out.' END,
           send_at = CASE WHEN stale.moved THEN stale.new_send_at ELSE r.send_at END,
           channel = CASE WHEN stale.moved THEN NULL ELSE r.channel END,
           outbound_message_id = CASE WHEN stale.moved THEN NULL ELSE r.outbound_message_id END,
           decided_at = CASE WHEN stale.moved AND stale.new_send_at > $3::timestamptz THEN NULL
                             ELSE $3::timestamptz END
       FROM stale WHERE r.id = stale.stage_id
       RETURNING r.id
     )
     SELECT reason FROM withdrawn`,
    [claim.id, claim.claims, now],
  );
  return rows[0]?.reason ?? null;
}
