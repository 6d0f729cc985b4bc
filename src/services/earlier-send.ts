import type { Queryable } from '../db/executor.js';
import { type ClaimedOutbound, otherTextsTo, recordedSids } from '../db/outbound.js';
import type { CreatedMessage, FindCreatedMessages, SendResult } from '../twilio/sender.js';

/**
 * How far Twilio's clock may be behind ours. A message Twilio created for an attempt we
 * started at T carries T or later by its clock; this much earlier is still taken for it.
 */
export const CLOCK_SKEW_MS = 60_000;

/**
 * Twilio's Messages API takes no idempotency key, so a send whose answer was lost (a
 * timeout, a broken connection, a 5xx) may have created its message. Before such a message
 * is sent again, this looks for it in Twilio's list: a message created through the API from
 * our number to the recipient since the first such attempt began, with the text we sent,
 * whose SID no other outbound message has recorded. When either attempt may have been a
 * template (a text Twilio renders, unknown here), any text fits but that of another of our
 * messages to the person queued in that time. The oldest that fits is the one; null when
 * none does, and the message is sent.
 *
 * If Twilio refuses the lookup for good (a 4xx), the message is sent: a reply that may
 * arrive twice is better than none.
 *
 * The first such attempt's start is noted with its failure (src/jobs/send-outbound.ts); for
 * a worker that died mid-send, the row's creation (the abandoned claim, src/db/outbound.ts).
 *
 * Wrong when a message that fits came from elsewhere in that time: the same text sent to
 * the same person through the same number outside Taskwire (another deployment on the same
 * account, a console) or by another row whose own answer is still on its way, or, for a
 * template, any message from outside. That copy is taken for ours, and ours is not sent.
 */
export async function findEarlierSend(
  db: Queryable,
  findCreated: FindCreatedMessages,
  row: ClaimedOutbound,
  message: { to: string; from: string; body: string; templated: boolean },
): Promise<SendResult | null> {
  if (row.outcome_unknown_since === null) return null;
  const since = new Date(row.outcome_unknown_since.getTime() - CLOCK_SKEW_MS);
  // The row's own addresses and this attempt's: a notice rerouted to SMS since (see
  // src/services/send-time.ts) may have gone out on WhatsApp the first time.
  const conversations = [{ to: message.to, from: message.from }];
  if (row.to_number !== message.to || row.from_number !== message.from) {
    conversations.push({ to: row.to_number, from: row.from_number });
  }
  const created: CreatedMessage[] = [];
  for (const conversation of conversations) {
    created.push(...(await findCreated({ ...conversation, since }).catch(refusedForGood)));
  }
  // A row with template variables may have gone out as its template on an earlier attempt,
  // a text Twilio rendered: any text fits but another message's of ours to the person.
  const anyText = message.templated || row.content_sid !== null || row.content_variables !== null;
  const texts = new Set([row.body, message.body]);
  const othersTexts = anyText
    ? await otherTextsTo(db, { to: conversations.map((c) => c.to), exceptId: row.id, since })
    : new Set<string>();
  const fitting = created.filter((m) => (anyText ? !othersTexts.has(m.body) : texts.has(m.body)));
  const taken = await recordedSids(
    db,
    fitting.map((m) => m.sid),
  );
  const oldest = fitting
    .filter((m) => !taken.has(m.sid))
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())[0];
  return oldest ? { sid: oldest.sid, status: oldest.status } : null;
}

/**
 * Twilio refused the lookup for good (credentials that may send but not read, say): a
 * message that may arrive twice is better than none, so nothing is found and it is sent.
 * Anything else (a timeout, a 5xx, 429) fails this attempt, to be retried.
 */
function refusedForGood(error: unknown): CreatedMessage[] {
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500 && status !== 429) return [];
  throw error;
}
