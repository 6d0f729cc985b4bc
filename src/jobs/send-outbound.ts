import type { Database } from '../db/executor.js';
import type { ClaimedOutbound } from '../db/outbound.js';
import { outboundSubmissions } from '../db/outbound-submissions.js';
import { ClaimLostError, PermanentJobError } from '../domain/processing-errors.js';
import { rememberRefusedRecipient } from '../services/consent.js';
import { findEarlierSend } from '../services/earlier-send.js';
import { decideAtSendTime } from '../services/send-time.js';
import type { NoticeSettings } from '../services/task-notices.js';
import { type SendMessage, TwilioSendError } from '../twilio/sender.js';
import type { ProcessJob } from './queue-worker.js';

/** The queue this job runs on: the outbound_messages table. */
export { outboundQueue } from '../db/outbound.js';

/**
 * Sends one recorded outbound message through Twilio and records Twilio's SID. A 4xx from
 * Twilio (invalid number, outside the 24-hour window) fails it for good; 429/5xx and
 * network errors are retried with back-off by the worker. First the message is decided
 * again by the rule of its kind (src/services/send-time.ts): one whose recipient opted out,
 * a reminder no longer right to send, or a free-form message whose 24-hour window closed
 * while it waited goes another way (a template, SMS) or is skipped with the reason.
 *
 * An attempt that ended without knowing whether Twilio created the message is noted on the
 * row; the next one first looks for that message at Twilio (src/services/earlier-send.ts)
 * and records it instead of sending a second.
 */
export function sendOutboundJob(deps: {
  db: Database;
  send: SendMessage | null;
  /** The time; tests inject one. */
  clock?: () => Date;
  /** How reminders and expiry notices reach users; without it they are sent as recorded. */
  notices?: NoticeSettings;
  /** DIGEST_CONTENT_SID: a digest's template once its window closed; absent: skipped. */
  digestContentSid?: string | null;
}): ProcessJob<ClaimedOutbound> {
  const clock = deps.clock ?? (() => new Date());
  const settings = { notices: deps.notices, digestContentSid: deps.digestContentSid ?? null };
  // Sends that finish together record their SIDs in one transaction of two statements.
  const submissions = outboundSubmissions(deps.db);
  return async (claimed) => {
    const decision = await decideAtSendTime(deps.db, claimed, settings, clock());
    if ('lost' in decision) throw new ClaimLostError(claimed.id);
    if ('skipped' in decision) return;
    const job = decision.send;
    if (!deps.send) {
      throw new PermanentJobError(
        'Not sent: Twilio is not configured (set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN).',
      );
    }
    const message = {
      to: job.to_number,
      from: job.from_number,
      body: job.body,
      mediaUrls: job.media_urls,
      content:
        job.content_sid !== null
          ? { sid: job.content_sid, variables: job.content_variables ?? {} }
          : null,
    };
    const earlier = deps.send.findCreated
      ? await findEarlierSend(deps.db, deps.send.findCreated, claimed, {
          ...message,
          templated: message.content !== null,
        })
      : null;
    // Twilio's clock, not the injected one, dates the message it may create.
    const startedAt = new Date();
    const result =
      earlier ??
      (await deps.send(message).catch(async (error: unknown) => {
        // 21610: the person opted out at Twilio (STOP on SMS): opted out here too.
        await rememberRefusedRecipient(deps.db, job, error, clock());
        throw error instanceof TwilioSendError && error.outcomeUnknown
          ? outcomeUnknownSince(error, startedAt)
          : error;
      }));
    const kept = await submissions
      .record({ id: job.id, claims: job.claims }, result)
      .catch((error: unknown) => {
        // Sent, and not recorded (the database went away): the next attempt must look
        // before it sends, just as if Twilio's answer had been lost.
        throw earlier ? error : outcomeUnknownSince(error, startedAt);
      });
    if (!kept) throw new ClaimLostError(job.id);
  };
}

/**
 * `error`, marked for the queue worker: this attempt, begun at `startedAt`, may have had
 * its message created by Twilio (kept on the row with the failure, src/db/queue-table.ts).
 */
function outcomeUnknownSince(error: unknown, startedAt: Date): unknown {
  if (error instanceof Error) Object.assign(error, { outcomeUnknownSince: startedAt });
  return error;
}
