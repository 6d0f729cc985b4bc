import type { Database } from '../db/executor.js';
import type { ClaimedOutbound } from '../db/outbound.js';
import { outboundSubmissions } from '../db/outbound-submissions.js';
import { withdrawStaleReminder } from '../db/reminders.js';
import { ClaimLostError, PermanentJobError } from '../domain/processing-errors.js';
import { rememberRefusedRecipient, withholdIfOptedOut } from '../services/consent.js';
import { recheckQueuedDigest } from '../services/digest-send-time.js';
import { recheckQueuedGroupMessage } from '../services/group-send-time.js';
import { type NoticeSettings, redecideQueuedNotice } from '../services/task-notices.js';
import type { SendMessage } from '../twilio/sender.js';
import type { ProcessJob } from './queue-worker.js';

/** The queue this job runs on: the outbound_messages table. */
export { outboundQueue } from '../db/outbound.js';

/**
 * Sends one recorded outbound message through Twilio and records Twilio's SID. A 4xx from
 * Twilio (invalid number, outside the 24-hour window) fails it for good; 429/5xx and
 * network errors are retried with back-off by the worker. A reminder is checked once more
 * first: one whose task is no longer active, or whose due time passed while it waited, is
 * withdrawn instead of sent. A free-form reminder or expiry notice whose user's 24-hour
 * window closed while it waited is decided again (template, SMS or skipped) with `notices`;
 * a share or review request in that case is not sent (src/services/group-send-time.ts), a
 * digest goes as DIGEST_CONTENT_SID or is skipped (src/services/digest-send-time.ts).
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
  // Sends that finish together record their SIDs in one transaction of two statements.
  const submissions = outboundSubmissions(deps.db);
  return async (claimed) => {
    let job = claimed;
    if ((await withholdIfOptedOut(deps.db, job, clock())) !== null) return;
    if (job.kind === 'reminder' && job.task_id !== null) {
      const withdrawn = await withdrawStaleReminder(deps.db, job, clock());
      if (withdrawn !== null) return;
    }
    // A share or review request whose 24-hour window closed while it waited is not sent.
    const group = await recheckQueuedGroupMessage(deps.db, job, clock());
    if ('lost' in group) throw new ClaimLostError(job.id);
    if ('skipped' in group) return;
    const digest = await recheckQueuedDigest(deps.db, job, deps.digestContentSid ?? null, clock());
    if ('lost' in digest) throw new ClaimLostError(job.id);
    if ('skipped' in digest) return;
    job = digest.send;
    if (deps.notices) {
      const decision = await redecideQueuedNotice(deps.db, job, deps.notices, clock());
      if ('lost' in decision) throw new ClaimLostError(job.id);
      if ('skipped' in decision) return;
      job = decision.send;
    }
    if (!deps.send) {
      throw new PermanentJobError(
        'Not sent: Twilio is not configured (set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN).',
      );
    }
    const sending = deps.send({
      to: job.to_number,
      from: job.from_number,
      body: job.body,
      mediaUrls: job.media_urls,
      content:
        job.content_sid !== null
          ? { sid: job.content_sid, variables: job.content_variables ?? {} }
          : null,
    });
    // 21610: the person opted out at Twilio (STOP on SMS): opted out here too.
    const result = await sending.catch(async (error: unknown) => {
      await rememberRefusedRecipient(deps.db, job, error, clock());
      throw error;
    });
    const kept = await submissions.record({ id: job.id, claims: job.claims }, result);
    if (!kept) throw new ClaimLostError(job.id);
  };
}
