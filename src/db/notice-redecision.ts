import type { ReminderChannel } from '../domain/reminder.js';
import type { TaskRow } from '../domain/task.js';
import type { Queryable } from './executor.js';
import type { TaskWithUser } from './reminders.js';
import { taskColumns } from './tasks.js';

/**
 * What re-deciding a queued reminder or expiry notice at send time reads and writes: the
 * outbound message (fenced by its claim, like every write of a claimed job) and the
 * task_reminders row that recorded the first decision.
 */

/** The task and user of a claimed notice, as they are now; null once the claim is lost. */
export async function noticeRecipient(
  tx: Queryable,
  claim: { id: number; claims: number },
): Promise<TaskWithUser | null> {
  const rows = await tx.query<
    TaskRow & {
      u_id: number;
      u_username: string;
      u_phone_number: string | null;
      u_whatsapp_id: string | null;
      u_timezone: string | null;
      u_last_whatsapp_inbound_at: Date | null;
      u_opted_out_at: Date | null;
    }
  >(
    `SELECT ${taskColumns
      .split(',')
      .map((column) => `t.${column.trim()}`)
      .join(', ')},
            u.id AS u_id, u.username AS u_username, u.phone_number AS u_phone_number,
            u.whatsapp_id AS u_whatsapp_id, u.timezone AS u_timezone,
            u.last_whatsapp_inbound_at AS u_last_whatsapp_inbound_at, u.opted_out_at AS u_opted_out_at
     FROM outbound_messages o
     JOIN tasks t ON t.id = o.task_id
     JOIN users u ON u.id = o.user_id
     WHERE o.id = $1 AND o.claims = $2 AND o.status = 'submitting'`,
    [claim.id, claim.claims],
  );
  const row = rows[0];
  if (!row) return null;
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
}

/**
 * Sends a claimed notice another way (a Content template, or SMS) and records the channel
 * on its stage. False once the claim is lost.
 */
export async function rerouteQueuedNotice(
  tx: Queryable,
  claim: { id: number; claims: number },
  route: {
    channel: ReminderChannel;
    to: string;
    from: string;
    content: { sid: string; variables: Record<string, string> } | null;
  },
): Promise<boolean> {
  const rows = await tx.query(
    `WITH rerouted AS (
       UPDATE outbound_messages
       SET to_number = $3, from_number = $4, content_sid = $5, content_variables = $6::jsonb
       WHERE id = $1 AND claims = $2 AND status = 'submitting'
       RETURNING id
     ),
     stage AS (
       UPDATE task_reminders SET channel = $7
       WHERE outbound_message_id IN (SELECT id FROM rerouted)
     )
     SELECT id FROM rerouted`,
    [
      claim.id,
      claim.claims,
      route.to,
      route.from,
      route.content?.sid ?? null,
      route.content ? JSON.stringify(route.content.variables) : null,
      route.channel,
    ],
  );
  return rows.length > 0;
}

/**
 * Gives up a claimed notice that can no longer reach the user: the outbound message
 * becomes `canceled` and its stage `skipped`, both with the reason. False once the claim
 * is lost.
 */
export async function skipQueuedNotice(
  tx: Queryable,
  claim: { id: number; claims: number },
  reason: string,
  now: Date,
): Promise<boolean> {
  const rows = await tx.query(
    `WITH skipped AS (
       UPDATE outbound_messages
       SET status = 'canceled', locked_until = NULL, error_message = $3,
           status_updated_at = $4::timestamptz
       WHERE id = $1 AND claims = $2 AND status = 'submitting'
       RETURNING id
     ),
     stage AS (
       UPDATE task_reminders
       SET status = 'skipped', channel = NULL, reason = $3, decided_at = $4::timestamptz
       WHERE outbound_message_id IN (SELECT id FROM skipped)
     )
     SELECT id FROM skipped`,
    [claim.id, claim.claims, reason, now],
  );
  return rows.length > 0;
}
