import type { Queryable } from './executor.js';
import { outboundQueue } from './outbound.js';

/**
 * What re-deciding a queued daily or weekly digest at send time writes: the outbound
 * message (fenced by its claim, like every write of a claimed job), the `group_digests` row
 * that recorded the first decision and, for a daily digest, the `shares` it carried. Rows
 * are found by outbound_message_id (indexed by migrations 0021 and 0023).
 */

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
       UPDATE outbound_messages
       SET status = 'canceled', locked_until = NULL, error_message = $3,
           status_updated_at = $4::timestamptz
       WHERE ${outboundQueue.held()}
       RETURNING id
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
