import type { OptOutSource, UserRow } from '../domain/user.js';
import type { Queryable } from './executor.js';

/**
 * Consent (migration 0013): `users.opted_out_at` is set while a person is opted out, and
 * nothing is sent to them on Taskwire's initiative (reminders, notices, admin sends).
 */

/**
 * Opts a person out. Already opted out: kept as it was (the first time and source stay).
 * True when this changed them from opted in.
 */
export async function optOut(
  db: Queryable,
  userId: number,
  source: OptOutSource,
  at: Date,
): Promise<boolean> {
  const rows = await db.query(
    `UPDATE users SET opted_out_at = $3::timestamptz, opt_out_source = $2
     WHERE id = $1 AND opted_out_at IS NULL
     RETURNING id`,
    [userId, source, at],
  );
  return rows.length > 0;
}

/** Opts a person back in; true when they were opted out. */
export async function optIn(db: Queryable, userId: number): Promise<boolean> {
  const rows = await db.query(
    `UPDATE users SET opted_out_at = NULL, opt_out_source = NULL
     WHERE id = $1 AND opted_out_at IS NOT NULL
     RETURNING id`,
    [userId],
  );
  return rows.length > 0;
}

/**
 * The people an outbound message is addressed to: its user, else whoever has its `To`
 * (without `whatsapp:`) as phone number or WhatsApp id (an admin's send names no user).
 */
const recipientSql = `
  SELECT u.id, u.opted_out_at FROM users u
  WHERE u.id = o.user_id
     OR (o.user_id IS NULL
         AND regexp_replace(o.to_number, '^whatsapp:', '') IN (u.phone_number, u.whatsapp_id))`;

/** Opts out the recipient of an outbound message Twilio refused with 21610. */
export async function optOutRecipient(
  db: Queryable,
  outboundId: number,
  at: Date,
): Promise<Pick<UserRow, 'id'>[]> {
  return db.query<Pick<UserRow, 'id'>>(
    `UPDATE users SET opted_out_at = $2::timestamptz, opt_out_source = 'twilio_21610'
     WHERE opted_out_at IS NULL AND id IN (
       SELECT r.id FROM outbound_messages o, LATERAL (${recipientSql}) r WHERE o.id = $1
     )
     RETURNING id`,
    [outboundId, at],
  );
}

/**
 * Withholds a claimed outbound message whose recipient is opted out: the message becomes
 * `canceled` with the reason, and the reminder stage or notice, share or review request
 * that recorded it `skipped` (a daily or weekly digest's row too).
 * One statement, fenced by the claim. Resolves to the reason, or null when the recipient
 * is not opted out (or the claim was lost).
 */
export async function withholdFromOptedOut(
  db: Queryable,
  claim: { id: number; claims: number },
  now: Date,
): Promise<string | null> {
  const rows = await db.query<{ reason: string }>(
    `WITH held AS (
       SELECT o.id,
              'Not sent: the person opted out (STOP) at ' ||
                to_char(r.opted_out_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') ||
                '; nothing is sent to them until they send START.' AS reason
       FROM outbound_messages o, LATERAL (${recipientSql}) r
       WHERE o.id = $1 AND o.claims = $2 AND o.status = 'submitting'
         AND r.opted_out_at IS NOT NULL
       LIMIT 1
     ),
     withheld AS (
       UPDATE outbound_messages o
       SET status = 'canceled', locked_until = NULL, error_message = held.reason,
           status_updated_at = $3::timestamptz
       FROM held WHERE o.id = held.id
       RETURNING o.id, held.reason
     ),
     stage AS (
       UPDATE task_reminders t
       SET status = 'skipped', reason = withheld.reason, decided_at = $3::timestamptz
       FROM withheld WHERE t.outbound_message_id = withheld.id
       RETURNING t.id
     ),
     share AS (
       UPDATE shares s
       SET status = 'skipped', reason = withheld.reason, decided_at = $3::timestamptz
       FROM withheld WHERE s.outbound_message_id = withheld.id
     ),
     request AS (
       UPDATE review_requests r SET skipped = withheld.reason
       FROM withheld WHERE r.outbound_message_id = withheld.id
     ),
     digest AS (
       UPDATE group_digests g SET status = 'skipped', channel = NULL, reason = withheld.reason
       FROM withheld WHERE g.outbound_message_id = withheld.id
     )
     SELECT reason FROM withheld`,
    [claim.id, claim.claims, now],
  );
  return rows[0]?.reason ?? null;
}
