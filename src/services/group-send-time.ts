import type { Database } from '../db/executor.js';
import { queuedGroupMessageFacts, withdrawQueuedGroupMessage } from '../db/group-send-time.js';
import type { ClaimedOutbound } from '../db/outbound.js';
import { insideWhatsAppWindow } from '../domain/reminder.js';
import type { SendTimeDecision } from './task-notices.js';

/**
 * Shares and review requests (issue 16) are free-form WhatsApp messages to other members,
 * decided inside the member's 24-hour window when they were recorded. One that waited in
 * the outbound queue (a backlog, Twilio 429/5xx retries) past the end of that window would
 * fail at Twilio with 63016, so it is checked again when it is about to be sent. So is a
 * share's author: one who turned sharing off (Me → Sharing, users.share_proofs) after the
 * share was queued was promised that their groups would not hear of their proofs. (A member
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
  shareAuthorStoppedSharing:
    'Not sent: the author turned sharing off (Me → Sharing) while the share was queued.',
};

/**
 * A claimed share whose author turned sharing off while it waited: not sent, the share
 * skipped with the reason (the digest will not tell it either). A claimed free-form share or
 * review request whose recipient's window closed while it waited: not sent. The share goes
 * back to waiting for the daily digest, which reaches the member by the digest's own rules
 * (free-form once they write again, else DIGEST_CONTENT_SID); the review request is skipped
 * with the reason and the review stays with the others asked (everybody is asked at once, so
 * there is nobody next in line) and REVIEW_TIMEOUT. Anything else, or a member who wrote
 * again meanwhile, is sent as recorded.
 */
export async function recheckQueuedGroupMessage(
  db: Database,
  job: ClaimedOutbound,
  now: Date,
): Promise<SendTimeDecision> {
  const share = job.kind === 'share';
  const freeForm =
    (share || job.kind === 'review_request') &&
    job.content_sid === null &&
    job.to_number.startsWith('whatsapp:') &&
    job.user_id !== null;
  if (!share && !freeForm) return { send: job };
  return db.transaction(async (tx): Promise<SendTimeDecision> => {
    const facts = await queuedGroupMessageFacts(tx, job);
    if (facts === undefined) return { lost: true };
    if (share && !facts.authorShares) {
      const reason = groupSendTimeTexts.shareAuthorStoppedSharing;
      return (await withdrawQueuedGroupMessage(tx, job, reason, now, 'skipped'))
        ? { skipped: reason }
        : { lost: true };
    }
    if (!freeForm || insideWhatsAppWindow(facts.lastWrote, now)) return { send: job };
    const reason = share
      ? groupSendTimeTexts.share(facts.lastWrote)
      : groupSendTimeTexts.reviewRequest(facts.lastWrote);
    return (await withdrawQueuedGroupMessage(tx, job, reason, now))
      ? { skipped: reason }
      : { lost: true };
  });
}
