import type { ReminderChannel } from '../domain/reminder.js';
import type { Queryable } from './executor.js';
import { outboundQueue } from './outbound.js';
import {
  prefixed,
  splitTaskUser,
  type TaskUserRow,
  type TaskWithUser,
  userFields,
} from './reminders.js';
import { authorShares } from './shares.js';

// Gives up the claimed outbound message ($1, $2): canceled with the reason ($3) at $4, the
// first step of every "skip it" below, whose other steps mark what the message carried.
const cancelHeldSql = `UPDATE outbound_messages
       SET status = 'canceled', locked_until = NULL, error_message = $3,
           status_updated_at = $4::timestamptz
       WHERE ${outboundQueue.held()}
       RETURNING id`;

/**
 * What deciding a queued outbound message again at send time reads and writes
 * (src/services/send-time.ts): the outbound message, fenced by its claim like every write of
 * a claimed job, and the row that recorded the first decision, found by its
 * outbound_message_id (indexed by migrations 0021 and 0023): `task_reminders` for a reminder
 * or notice, `shares` and `review_requests` for a share or review request, `group_digests`
 * and the `shares` it carried for a digest.
 */

/**
 * When the recipient of a claimed message last wrote on WhatsApp (null: never); undefined
 * once the claim is lost.
 */
export async function recipientLastWrote(
  tx: Queryable,
  claim: { id: number; claims: number },
): Promise<Date | null | undefined> {
  const rows = await tx.query<{ last_whatsapp_inbound_at: Date | null }>(
    `SELECT u.last_whatsapp_inbound_at
     FROM outbound_messages o LEFT JOIN users u ON u.id = o.user_id
     WHERE ${outboundQueue.held('o')}`,
    [claim.id, claim.claims],
  );
  return rows[0] === undefined ? undefined : rows[0].last_whatsapp_inbound_at;
}

// Shares and review requests.

/** What a claimed share or review request is decided on again when it is about to be sent. */
export interface QueuedGroupMessageFacts {
  /** When the recipient last wrote on WhatsApp (null: never). */
  lastWrote: Date | null;
  /** For a share: whether the proof's author still shares their proofs (users.share_proofs). */
  authorShares: boolean;
}

/** The facts of a claimed message (see QueuedGroupMessageFacts); undefined once the claim is lost. */
export async function queuedGroupMessageFacts(
  tx: Queryable,
  claim: { id: number; claims: number },
): Promise<QueuedGroupMessageFacts | undefined> {
  const rows = await tx.query<{ last_whatsapp_inbound_at: Date | null; author_shares: boolean }>(
    `SELECT u.last_whatsapp_inbound_at,
            coalesce((SELECT ${authorShares('f.user_id')} FROM shares s
                        JOIN feed f ON f.id = s.feed_id
                       WHERE s.outbound_message_id = o.id LIMIT 1), true) AS author_shares
     FROM outbound_messages o LEFT JOIN users u ON u.id = o.user_id
     WHERE ${outboundQueue.held('o')}`,
    [claim.id, claim.claims],
  );
  const row = rows[0];
  return row && { lastWrote: row.last_whatsapp_inbound_at, authorShares: row.author_shares };
}

/**
 * Gives up a claimed share or review request: the message becomes `canceled` with the
 * reason, its review request is `skipped` with the reason, and its share either waits for
 * the daily digest again (`share: 'pending'`, no message: the recipient's 24-hour window
 * closed) or is settled `skipped` with the reason (`'skipped'`: the author stopped sharing).
 * One statement; false once the claim is lost.
 */
export async function withdrawQueuedGroupMessage(
  tx: Queryable,
  claim: { id: number; claims: number },
  reason: string,
  now: Date,
  share: 'pending' | 'skipped' = 'pending',
): Promise<boolean> {
  const rows = await tx.query(
    `WITH withdrawn AS (
       ${cancelHeldSql}
     ),
     waits AS (
       UPDATE shares
       SET status = 'pending', reason = $3, outbound_message_id = NULL, decided_at = NULL
       WHERE $5::text = 'pending' AND outbound_message_id IN (SELECT id FROM withdrawn)
         AND status = 'sent'
     ),
     settled AS (
       UPDATE shares SET status = 'skipped', reason = $3, decided_at = $4::timestamptz
       WHERE $5::text = 'skipped' AND outbound_message_id IN (SELECT id FROM withdrawn)
         AND status = 'sent'
     ),
     request AS (
       UPDATE review_requests SET skipped = $3
       WHERE outbound_message_id IN (SELECT id FROM withdrawn)
     )
     SELECT id FROM withdrawn`,
    [claim.id, claim.claims, reason, now, share],
  );
  return rows.length > 0;
}

// Daily and weekly digests.

/**
 * Sends a claimed free-form digest as the Content template instead, with the variables
 * recorded beside its body; its digest row says so. False once the claim is lost.
 */
export async function rerouteQueuedDigest(
  tx: Queryable,
  claim: { id: number; claims: number },
  contentSid: string,
): Promise<boolean> {
  const rows = await tx.query(
    `WITH rerouted AS (
       UPDATE outbound_messages SET content_sid = $3
       WHERE ${outboundQueue.held()}
       RETURNING id
     ),
     digest AS (
       UPDATE group_digests SET channel = 'template'
       WHERE outbound_message_id IN (SELECT id FROM rerouted)
     )
     SELECT id FROM rerouted`,
    [claim.id, claim.claims, contentSid],
  );
  return rows.length > 0;
}

/**
 * Gives up a claimed digest that can no longer reach the member: the message becomes
 * `canceled`, its digest row and the news it carried `skipped`, all with the reason, as
 * when a digest is decided outside the window without a template. One statement; false
 * once the claim is lost.
 */
export async function skipQueuedDigest(
  tx: Queryable,
  claim: { id: number; claims: number },
  reason: string,
  now: Date,
): Promise<boolean> {
  const rows = await tx.query(
    `WITH skipped AS (
       ${cancelHeldSql}
     ),
     digest AS (
       UPDATE group_digests SET status = 'skipped', channel = NULL, reason = $3
       WHERE outbound_message_id IN (SELECT id FROM skipped)
     ),
     news AS (
       UPDATE shares SET status = 'skipped', reason = $3, decided_at = $4::timestamptz
       WHERE outbound_message_id IN (SELECT id FROM skipped) AND status = 'digested'
     )
     SELECT id FROM skipped`,
    [claim.id, claim.claims, reason, now],
  );
  return rows.length > 0;
}

// Reminders, expiry and assignment notices.

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
       ${cancelHeldSql}
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
