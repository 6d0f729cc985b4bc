import type { Database, Queryable } from '../db/executor.js';
import type { ClaimedOutbound, OutboundKind } from '../db/outbound.js';
import { withdrawStaleReminder } from '../db/reminders.js';
import {
  noticeRecipient,
  queuedGroupMessageFacts,
  recipientLastWrote,
  rerouteQueuedDigest,
  rerouteQueuedNotice,
  skipQueuedDigest,
  skipQueuedNotice,
  withdrawQueuedGroupMessage,
} from '../db/send-time.js';
import { insideWhatsAppWindow } from '../domain/reminder.js';
import { withholdIfOptedOut } from './consent.js';
import { formatDueTime, reminderTemplateVariables } from './reply-texts.js';
import { type NoticeSettings, chooseDelivery, templateFor } from './task-notices.js';
import { personTimeZone } from './time-zones.js';

/**
 * A message Taskwire sends on its own initiative is decided when it is recorded, but it may
 * wait in the outbound queue (a backlog, Twilio 429/5xx retries) while things change, so it
 * is decided again when it is about to be sent, by the rule of its kind (sendTimeRules).
 * Mostly that is WhatsApp's 24-hour window: a free-form message recorded inside the window
 * that is still queued once it closed would fail at Twilio with 63016, so it goes another
 * way its kind allows (a Content template, SMS) or is skipped with the reason. Before any
 * rule, a recipient who opted out meanwhile is withheld (src/services/consent.ts).
 */

/** What became of a queued message decided again at send time. */
export type SendTimeDecision =
  | { send: ClaimedOutbound }
  | { skipped: string }
  /** Another worker took the message over; nothing was changed. */
  | { lost: true };

/** What the rules depend on (from config). */
export interface SendTimeSettings {
  /** How reminders and notices reach users; without it they are sent as recorded. */
  notices?: NoticeSettings;
  /** DIGEST_CONTENT_SID: a digest's template once its window closed; null: skipped then. */
  digestContentSid: string | null;
}

/** How one kind of queued message is decided again. */
interface SendTimeRule {
  /**
   * A check of its own before the window's, one statement outside the transaction: the
   * reason the message was withdrawn, or null.
   */
  withdrawn?(db: Database, job: ClaimedOutbound, now: Date): Promise<string | null>;
  /** Whether `job` is decided again at all; false: sent as recorded, without a statement. */
  applies(job: ClaimedOutbound, settings: SendTimeSettings): boolean;
  /** Decides again in one transaction; every write is fenced by the claim. */
  decide(
    tx: Queryable,
    job: ClaimedOutbound,
    settings: SendTimeSettings,
    now: Date,
  ): Promise<SendTimeDecision>;
}

const LOST = { lost: true } as const;

/** `decision` if the write fenced by the claim happened, else the claim was lost. */
const ifWritten = (written: boolean, decision: SendTimeDecision): SendTimeDecision =>
  written ? decision : LOST;

/** Free-form WhatsApp text to a known user: what the 24-hour window decides. */
const freeFormWhatsApp = (job: ClaimedOutbound): boolean =>
  job.content_sid === null && job.to_number.startsWith('whatsapp:') && job.user_id !== null;

const windowClosed = (lastWrote: Date | null) =>
  'Not sent: still queued when the 24-hour window closed (' +
  (lastWrote
    ? `the person last wrote on WhatsApp ${lastWrote.toISOString()}`
    : 'the person never wrote on WhatsApp') +
  '); ';

const sendTimeTexts = {
  share: (lastWrote: Date | null) =>
    `${windowClosed(lastWrote)}the news waits for the daily digest.`,
  reviewRequest: (lastWrote: Date | null) =>
    `${windowClosed(lastWrote)}a free-form request would fail (63016). The other members ` +
    'asked may still decide; with no decision, REVIEW_TIMEOUT approves it.',
  shareAuthorStoppedSharing:
    'Not sent: the author turned sharing off (Me → Sharing) while the share was queued.',
  digestNoTemplate: (lastWrote: Date | null) =>
    `${windowClosed(lastWrote)}to reach them anyway, set DIGEST_CONTENT_SID (a template).`,
  digestNoVariables: (lastWrote: Date | null) =>
    `${windowClosed(lastWrote)}it was recorded without the template's variables, so ` +
    'DIGEST_CONTENT_SID cannot carry it.',
};

/**
 * Reminders, expiry and assignment notices (issue 4, src/services/task-notices.ts): decided
 * again by chooseDelivery, as when they were scheduled: the Content template (not for an
 * expiry), else SMS, else skipped with the reason (the outbound message `canceled`, its
 * stage `skipped`).
 */
const noticeRule: SendTimeRule = {
  applies: (job, { notices }) =>
    notices !== undefined &&
    // The quick-reply reminder is in-session content: outside the window it fails as free text does.
    (job.content_sid === null ||
      (job.content_sid === notices.buttonsContentSid && job.content_sid !== notices.contentSid)) &&
    job.to_number.startsWith('whatsapp:') &&
    job.task_id !== null &&
    job.user_id !== null,
  async decide(tx, job, { notices: settings }, now) {
    if (!settings) return { send: job };
    const recipient = await noticeRecipient(tx, job);
    if (!recipient) return LOST;
    const { task, user } = recipient;
    if (insideWhatsAppWindow(user.last_whatsapp_inbound_at, now)) return { send: job };
    const template = templateFor(
      job.kind === 'assignment' ? 'assignment' : job.kind === 'reminder' ? 'reminder' : 'expiry',
      settings,
    );
    const delivery = await chooseDelivery(tx, user, now, settings, template);
    if ('skip' in delivery) {
      const reason = `Not sent: still queued when the 24-hour window closed. ${delivery.skip}`;
      return ifWritten(await skipQueuedNotice(tx, job, reason, now), { skipped: reason });
    }
    const content =
      delivery.channel === 'template' && template?.sid
        ? {
            sid: template.sid,
            variables: reminderTemplateVariables(
              task,
              formatDueTime(task.due_time, personTimeZone(user, settings.defaultTimezone)),
            ),
          }
        : null;
    const route = { channel: delivery.channel, to: delivery.to, from: delivery.from, content };
    return ifWritten(await rerouteQueuedNotice(tx, job, route), {
      send: {
        ...job,
        to_number: delivery.to,
        from_number: delivery.from,
        content_sid: content?.sid ?? null,
        content_variables: content?.variables ?? null,
      },
    });
  },
};

/**
 * A reminder is also withdrawn when it is no longer right to send: its task is no longer
 * active, its due time passed or was edited (src/db/reminders.ts).
 */
const reminderRule: SendTimeRule = {
  ...noticeRule,
  withdrawn: (db, job, now) =>
    job.task_id === null ? Promise.resolve(null) : withdrawStaleReminder(db, job, now),
};

/**
 * A share (issue 16) whose author turned sharing off (Me → Sharing, users.share_proofs) after
 * it was queued is not sent, whatever its channel: the author was promised that their groups
 * would not hear of their proofs; the share is skipped with the reason (the digest will not
 * tell it either). One whose member's window closed is not sent either: the share goes back
 * to waiting for the daily digest, which reaches the member by the digest's own rules.
 */
const shareRule: SendTimeRule = {
  applies: () => true,
  async decide(tx, job, _settings, now) {
    const facts = await queuedGroupMessageFacts(tx, job);
    if (facts === undefined) return LOST;
    if (!facts.authorShares) {
      const reason = sendTimeTexts.shareAuthorStoppedSharing;
      return ifWritten(await withdrawQueuedGroupMessage(tx, job, reason, now, 'skipped'), {
        skipped: reason,
      });
    }
    if (!freeFormWhatsApp(job) || insideWhatsAppWindow(facts.lastWrote, now)) return { send: job };
    const reason = sendTimeTexts.share(facts.lastWrote);
    return ifWritten(await withdrawQueuedGroupMessage(tx, job, reason, now), { skipped: reason });
  },
};

/**
 * A review request (issue 16) whose member's window closed is not sent: skipped with the
 * reason, the review stays with the others asked (everybody is asked at once, so there is
 * nobody next in line) and REVIEW_TIMEOUT.
 */
const reviewRequestRule: SendTimeRule = {
  applies: freeFormWhatsApp,
  async decide(tx, job, _settings, now) {
    const facts = await queuedGroupMessageFacts(tx, job);
    if (facts === undefined) return LOST;
    if (insideWhatsAppWindow(facts.lastWrote, now)) return { send: job };
    const reason = sendTimeTexts.reviewRequest(facts.lastWrote);
    return ifWritten(await withdrawQueuedGroupMessage(tx, job, reason, now), { skipped: reason });
  },
};

/**
 * The daily share digest and the Sunday digest (src/services/group-news.ts), by the
 * digest's own rule: once the window closed, the DIGEST_CONTENT_SID template with the
 * variables recorded beside its body, else canceled with its digest row and its news
 * skipped, with the reason.
 */
const digestRule: SendTimeRule = {
  applies: freeFormWhatsApp,
  async decide(tx, job, { digestContentSid }, now) {
    const lastWrote = await recipientLastWrote(tx, job);
    if (lastWrote === undefined) return LOST;
    if (insideWhatsAppWindow(lastWrote, now)) return { send: job };
    if (digestContentSid && job.content_variables) {
      return ifWritten(await rerouteQueuedDigest(tx, job, digestContentSid), {
        send: { ...job, content_sid: digestContentSid },
      });
    }
    const reason = digestContentSid
      ? sendTimeTexts.digestNoVariables(lastWrote)
      : sendTimeTexts.digestNoTemplate(lastWrote);
    return ifWritten(await skipQueuedDigest(tx, job, reason, now), { skipped: reason });
  },
};

/** The rule of each kind; null: sent as recorded (a reply, or what a person asked for). */
const sendTimeRules: Record<OutboundKind, SendTimeRule | null> = {
  reply: null,
  greeting: null,
  send: null,
  review_result: null,
  reminder: reminderRule,
  expiry: noticeRule,
  assignment: noticeRule,
  share: shareRule,
  review_request: reviewRequestRule,
  share_digest: digestRule,
  weekly_digest: digestRule,
};

/**
 * Decides a claimed message again just before it is sent (see above): sent as `send` says,
 * or skipped with the reason (its rows settled), or the claim was lost.
 */
export async function decideAtSendTime(
  db: Database,
  job: ClaimedOutbound,
  settings: SendTimeSettings,
  now: Date,
): Promise<SendTimeDecision> {
  const withheld = await withholdIfOptedOut(db, job, now);
  if (withheld !== null) return { skipped: withheld };
  const rule = sendTimeRules[job.kind];
  if (rule === null) return { send: job };
  const withdrawn = rule.withdrawn ? await rule.withdrawn(db, job, now) : null;
  if (withdrawn !== null) return { skipped: withdrawn };
  if (!rule.applies(job, settings)) return { send: job };
  return db.transaction((tx) => rule.decide(tx, job, settings, now));
}
