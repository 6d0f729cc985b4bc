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
            coalesce((SELECT a.share_proofs FROM shares s
                        JOIN feed f ON f.id = s.feed_id JOIN users a ON a.id = f.user_id
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
       UPDATE outbound_messages
       SET status = 'canceled', locked_until = NULL, error_message = $3,
           status_updated_at = $4::timestamptz
       WHERE ${outboundQueue.held()}
       RETURNING id
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
