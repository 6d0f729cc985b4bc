import type { Queryable } from './executor.js';
import { outboundQueue } from './outbound.js';

/**
 * What re-checking a queued share or review request at send time reads and writes: the
 * outbound message (fenced by its claim, like every write of a claimed job) and the row
 * that recorded the first decision (`shares`, `review_requests`).
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

/**
 * Gives up a claimed share or review request whose recipient's 24-hour window closed while
 * it waited: the message becomes `canceled` with the reason; its share waits for the daily
 * digest again (`pending`, no message), its review request is `skipped` with the reason.
 * One statement; false once the claim is lost.
 */
export async function withdrawQueuedGroupMessage(
  tx: Queryable,
  claim: { id: number; claims: number },
  reason: string,
  now: Date,
): Promise<boolean> {
  const rows = await tx.query(
    `WITH withdrawn AS (
       UPDATE outbound_messages
       SET status = 'canceled', locked_until = NULL, error_message = $3,
           status_updated_at = $4::timestamptz
       WHERE ${outboundQueue.held()}
       RETURNING id
     ),
     share AS (
       UPDATE shares
       SET status = 'pending', reason = $3, outbound_message_id = NULL, decided_at = NULL
       WHERE outbound_message_id IN (SELECT id FROM withdrawn) AND status = 'sent'
     ),
     request AS (
       UPDATE review_requests SET skipped = $3
       WHERE outbound_message_id IN (SELECT id FROM withdrawn)
     )
     SELECT id FROM withdrawn`,
    [claim.id, claim.claims, reason, now],
  );
  return rows.length > 0;
}
