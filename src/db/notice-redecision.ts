import type { ReminderChannel } from '../domain/reminder.js';
import type { Queryable } from './executor.js';
import {
  prefixed,
  splitTaskUser,
  type TaskUserRow,
  type TaskWithUser,
  userFields,
} from './reminders.js';

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
  const rows = await tx.query<TaskUserRow>(
    `SELECT ${prefixed('t')}, ${userFields}
     FROM outbound_messages o
     JOIN tasks t ON t.id = o.task_id
     JOIN users u ON u.id = o.user_id
     WHERE o.id = $1 AND o.claims = $2 AND o.status = 'submitting'`,
    [claim.id, claim.claims],
  );
  return rows[0] ? splitTaskUser(rows[0]) : null;
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
