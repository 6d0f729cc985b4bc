import type { Queryable } from '../db/executor.js';
import { type ClaimedOutbound, recordedSids } from '../db/outbound.js';
import type { FindCreatedMessages, SendResult } from '../twilio/sender.js';

/**
 * How far Twilio's clock may be behind ours. A message Twilio created for an attempt we
 * started at T carries T or later by its clock; this much earlier is still taken for it.
 */
export const CLOCK_SKEW_MS = 60_000;

/**
 * Twilio's Messages API takes no idempotency key, so a send whose answer was lost (a
 * timeout, a broken connection, a 5xx) may have created its message. Before such a message
 * is sent again, this looks for it in Twilio's list of the conversation: a message created
 * through the API from our number to the recipient since the first such attempt began, with
 * the text we sent (any text, when either attempt may have been a template, whose text
 * Twilio renders), whose SID no other outbound message has recorded. The oldest that fits is
 * the one; null when none does, and the message is sent.
 *
 * If Twilio refuses the lookup for good (a 4xx), the message is sent: a reply that may
 * arrive twice is better than none.
 *
 * The first such attempt's start is noted when it fails (src/jobs/send-outbound.ts); for a
 * worker that died mid-send, the row's creation (the abandoned claim, src/db/outbound.ts).
 *
 * Wrong only when the same text went to the same person through the same number in that
 * time and has no SID recorded here (sent outside Taskwire, or by another row whose own
 * answer is still on its way): that copy would be taken for ours, and ours not sent.
 */
export async function findEarlierSend(
  db: Queryable,
  findCreated: FindCreatedMessages,
  row: ClaimedOutbound,
  message: { to: string; from: string; body: string; templated: boolean },
): Promise<SendResult | null> {
  if (row.outcome_unknown_since === null) return null;
  const created = await findCreated({
    to: message.to,
    from: message.from,
    since: new Date(row.outcome_unknown_since.getTime() - CLOCK_SKEW_MS),
  }).catch((error: unknown) => {
    // Refused for good (credentials that may send but not read, say): a reply that may go
    // out twice is better than none. Anything else (a timeout, a 5xx, 429) is retried.
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500 && status !== 429) return [];
    throw error;
  });
  // A row with template variables may have gone out as its template on the first attempt.
  const anyText = message.templated || row.content_sid !== null || row.content_variables !== null;
  const texts = new Set([row.body, message.body]);
  const fitting = created.filter((m) => anyText || texts.has(m.body));
  const taken = await recordedSids(
    db,
    fitting.map((m) => m.sid),
  );
  // Twilio lists newest first and dates to the second: reversed, ties stay oldest first.
  const oldest = fitting
    .filter((m) => !taken.has(m.sid))
    .reverse()
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())[0];
  return oldest ? { sid: oldest.sid, status: oldest.status } : null;
}
