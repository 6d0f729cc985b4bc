import type { Database } from '../db/executor.js';
import { recipientLastWrote, withdrawQueuedGroupMessage } from '../db/group-send-time.js';
import type { ClaimedOutbound } from '../db/outbound.js';
import { insideWhatsAppWindow } from '../domain/reminder.js';
import type { SendTimeDecision } from './task-notices.js';

/**
 * Shares and review requests (issue 16) are free-form WhatsApp messages to other members,
 * decided inside the member's 24-hour window when they were recorded. One that waited in
 * the outbound queue (a backlog, Twilio 429/5xx retries) past the end of that window would
 * fail at Twilio with 63016, so it is checked again when it is about to be sent. (A member
 * who opted out meanwhile is withheld before this, by src/services/consent.ts, which also
 * settles the share or request with the reason.)
 */

const lastWroteText = (at: Date | null) =>
  at
    ? `the person last wrote on WhatsApp ${at.toISOString()}`
    : 'the person never wrote on WhatsApp';

export const groupSendTimeTexts = {
  share: (lastWrote: Date | null) =>
    `Not sent: still queued when the 24-hour window closed (${lastWroteText(lastWrote)}); ` +
    'the news waits for the daily digest.',
  reviewRequest: (lastWrote: Date | null) =>
    `Not sent: still queued when the 24-hour window closed (${lastWroteText(lastWrote)}); ` +
    'a free-form request would fail (63016). The other members asked may still decide; ' +
    'with no decision, REVIEW_TIMEOUT approves it.',
};

/**
 * A claimed share or review request whose recipient's window closed while it waited: not
 * sent. The share goes back to waiting for the daily digest, which reaches the member by the
 * digest's own rules (free-form once they write again, else DIGEST_CONTENT_SID); the review
 * request is skipped with the reason and the review stays with the others asked (everybody
 * is asked at once, so there is nobody next in line) and REVIEW_TIMEOUT. Anything else, or a
 * member who wrote again meanwhile, is sent as recorded.
 */
export async function recheckQueuedGroupMessage(
  db: Database,
  job: ClaimedOutbound,
  now: Date,
): Promise<SendTimeDecision> {
  const freeForm =
    (job.kind === 'share' || job.kind === 'review_request') &&
    job.content_sid === null &&
    job.to_number.startsWith('whatsapp:') &&
    job.user_id !== null;
  if (!freeForm) return { send: job };
  return db.transaction(async (tx): Promise<SendTimeDecision> => {
    const lastWrote = await recipientLastWrote(tx, job);
    if (lastWrote === undefined) return { lost: true };
    if (insideWhatsAppWindow(lastWrote, now)) return { send: job };
    const reason =
      job.kind === 'share'
        ? groupSendTimeTexts.share(lastWrote)
        : groupSendTimeTexts.reviewRequest(lastWrote);
    return (await withdrawQueuedGroupMessage(tx, job, reason, now))
      ? { skipped: reason }
      : { lost: true };
  });
}
