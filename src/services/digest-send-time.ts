import type { Database } from '../db/executor.js';
import { rerouteQueuedDigest, skipQueuedDigest } from '../db/digest-send-time.js';
import { recipientLastWrote } from '../db/group-send-time.js';
import type { ClaimedOutbound } from '../db/outbound.js';
import { insideWhatsAppWindow } from '../domain/reminder.js';
import type { SendTimeDecision } from './task-notices.js';

/**
 * The daily share digest and the Sunday digest (src/services/group-news.ts) are recorded
 * free-form when the member's 24-hour window is open. One that waited in the outbound queue
 * (a backlog, Twilio 429/5xx retries) past the end of that window would fail at Twilio with
 * 63016, so it is decided again when it is about to be sent, by the digest's own rule:
 * the DIGEST_CONTENT_SID template, else skipped with the reason. (A member who opted out
 * meanwhile is withheld before this, by src/services/consent.ts, which also settles the
 * digest and its news as skipped.)
 */

const lastWroteText = (at: Date | null) =>
  at
    ? `the person last wrote on WhatsApp ${at.toISOString()}`
    : 'the person never wrote on WhatsApp';

export const digestSendTimeTexts = {
  noTemplate: (lastWrote: Date | null) =>
    `Not sent: still queued when the 24-hour window closed (${lastWroteText(lastWrote)}); ` +
    'to reach them anyway, set DIGEST_CONTENT_SID (a template).',
  noVariables: (lastWrote: Date | null) =>
    `Not sent: still queued when the 24-hour window closed (${lastWroteText(lastWrote)}); ` +
    "it was recorded without the template's variables, so DIGEST_CONTENT_SID cannot carry it.",
};

/**
 * A claimed free-form digest whose member's window closed while it waited: sent as the
 * `contentSid` template with the variables recorded beside its body, or, without a template,
 * canceled with its digest row and its news skipped, with the reason. Anything else, or a
 * member who wrote again meanwhile, is sent as recorded.
 */
export async function recheckQueuedDigest(
  db: Database,
  job: ClaimedOutbound,
  contentSid: string | null,
  now: Date,
): Promise<SendTimeDecision> {
  const freeForm =
    (job.kind === 'share_digest' || job.kind === 'weekly_digest') &&
    job.content_sid === null &&
    job.to_number.startsWith('whatsapp:') &&
    job.user_id !== null;
  if (!freeForm) return { send: job };
  return db.transaction(async (tx): Promise<SendTimeDecision> => {
    const lastWrote = await recipientLastWrote(tx, job);
    if (lastWrote === undefined) return { lost: true };
    if (insideWhatsAppWindow(lastWrote, now)) return { send: job };
    if (contentSid && job.content_variables) {
      return (await rerouteQueuedDigest(tx, job, contentSid))
        ? { send: { ...job, content_sid: contentSid } }
        : { lost: true };
    }
    const reason = contentSid
      ? digestSendTimeTexts.noVariables(lastWrote)
      : digestSendTimeTexts.noTemplate(lastWrote);
    return (await skipQueuedDigest(tx, job, reason, now)) ? { skipped: reason } : { lost: true };
  });
}
