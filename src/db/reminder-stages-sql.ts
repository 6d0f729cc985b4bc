/*
 * SQL fragments (common table expressions) that keep a task's reminder stages in step with
 * the task, inside the very statement that creates, edits, completes or expires it.
 * Each expects the changed task rows in a CTE named `task`.
 */

/** Why a stage was cancelled when REMINDER_OFFSETS stopped including it (it may return). */
const UNCONFIGURED = `'REMINDER_OFFSETS no longer includes this stage.'`;

/**
 * SQL that (re)schedules the reminder stages of the tasks in the CTE named `task`, for the
 * offsets in parameter `$offsets` (int[]) as of parameter `$now`. A stage already sent is
 * left alone; every other stage follows the due time: pending when its time is still
 * ahead, else skipped (a task set or moved to less than that many minutes before it is
 * due). Stages no longer configured are cancelled. Used inside the statement that creates
 * or edits the task, so a task never exists without its stages.
 */
export function scheduleStagesSql(
  offsets: string,
  now: string,
  existing: 'reschedule' | 'keep' = 'reschedule',
): string {
  const sendAt = `task.due_time - make_interval(mins => o.m)`;
  // 'keep' (a scheduler starting) inserts missing stages only, and locks no other row:
  // ON CONFLICT DO UPDATE would lock every existing stage, even where its WHERE is false.
  const onConflict =
    existing === 'keep'
      ? 'DO NOTHING'
      : `DO UPDATE
      SET send_at = EXCLUDED.send_at, status = EXCLUDED.status, reason = EXCLUDED.reason,
          decided_at = EXCLUDED.decided_at, channel = NULL, outbound_message_id = NULL
      WHERE task_reminders.status <> 'sent'`;
  // Stages cancelled because an earlier REMINDER_OFFSETS lacked them, configured again.
  const restored =
    existing === 'keep'
      ? `,
  restored AS (
    UPDATE task_reminders r
    SET send_at = task.due_time - make_interval(mins => r.offset_minutes),
        status = CASE WHEN task.due_time - make_interval(mins => r.offset_minutes) > ${now}
                      THEN 'pending' ELSE 'skipped' END,
        reason = CASE WHEN task.due_time - make_interval(mins => r.offset_minutes) > ${now}
                      THEN NULL ELSE 'Configured again in REMINDER_OFFSETS after its time.' END,
        decided_at = CASE WHEN task.due_time - make_interval(mins => r.offset_minutes) > ${now}
                          THEN NULL ELSE ${now} END
    FROM task
    WHERE r.task_id = task.id AND r.kind = 'reminder' AND r.status = 'cancelled'
      AND r.reason = ${UNCONFIGURED} AND r.offset_minutes = ANY (${offsets}::int[])
  )`
      : '';
  return `
  scheduled AS (
    INSERT INTO task_reminders (task_id, kind, offset_minutes, send_at, status, reason, decided_at)
    SELECT task.id, 'reminder', o.m, ${sendAt},
           CASE WHEN ${sendAt} > ${now} THEN 'pending' ELSE 'skipped' END,
           CASE WHEN ${sendAt} > ${now} THEN NULL
                ELSE 'The due time was less than ' || o.m || ' minutes away when it was set.' END,
           CASE WHEN ${sendAt} > ${now} THEN NULL ELSE ${now} END
    FROM task CROSS JOIN unnest(${offsets}::int[]) AS o(m)
    WHERE task.status = 'active'
    ON CONFLICT (task_id, kind, offset_minutes) ${onConflict}
  ),
  unconfigured AS (
    UPDATE task_reminders r
    SET status = 'cancelled', reason = ${UNCONFIGURED}, decided_at = ${now}
    FROM task
    WHERE r.task_id = task.id AND r.kind = 'reminder' AND r.status = 'pending'
      AND r.offset_minutes <> ALL (${offsets}::int[])
  )${restored}`;
}

/** SQL cancelling the pending stages of the tasks in CTE `task` once they stop being active. */
export function cancelStagesSql(reason: string, now: string): string {
  return `
  cancelled_stages AS (
    UPDATE task_reminders r
    SET status = 'cancelled', reason = ${reason}, decided_at = ${now}
    FROM task
    WHERE r.task_id = task.id AND r.status = 'pending' AND task.status <> 'active'
  )`;
}

/**
 * SQL recording the assignment notice of the tasks in CTE `task` (when parameter `notify`
 * is true): a pending `assignment` stage due at `now`, which the reminder scheduler claims
 * and decides like a reminder stage, so the person is told once.
 */
export function assignmentNoticeSql(now: string, notify: string): string {
  return `
  assignment_notice AS (
    INSERT INTO task_reminders (task_id, kind, offset_minutes, send_at)
    SELECT task.id, 'assignment', 0, ${now} FROM task WHERE ${notify}
    ON CONFLICT (task_id, kind, offset_minutes) DO NOTHING
  )`;
}
