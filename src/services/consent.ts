import type { Database } from '../db/executor.js';
import { optOutRecipient, withholdFromOptedOut } from '../db/consent.js';
import type { ClaimedOutbound, OutboundKind } from '../db/outbound.js';

/**
 * Consent, as WhatsApp and the carriers require: a message that is exactly one of the
 * standard opt-out words opts the person out (one confirmation, then nothing on Taskwire's
 * initiative) until they send one of the opt-in words. The words are Twilio's defaults for
 * Advanced Opt-Out, so SMS and WhatsApp behave alike.
 */
export const OPT_OUT_WORDS = [
  'stop',
  'stopall',
  'unsubscribe',
  'cancel',
  'end',
  'quit',
  'optout',
  'revoke',
] as const;
export const OPT_IN_WORDS = ['start', 'unstop', 'yes'] as const;

/** Twilio's error for a send to a recipient who opted out ("unsubscribed recipient"). */
export const TWILIO_UNSUBSCRIBED = 21610;

/**
 * `out` or `in` when the whole message is one consent word (any case, surrounding spaces
 * and a final `.` or `!` ignored), else null. `cancel 2` is not `CANCEL`: only the bare
 * word opts out, so the `cancel <n>` command keeps working.
 */
export function consentWord(body: string): 'out' | 'in' | null {
  const word = body
    .trim()
    .toLowerCase()
    .replace(/[.!]+$/, '');
  if ((OPT_OUT_WORDS as readonly string[]).includes(word)) return 'out';
  if ((OPT_IN_WORDS as readonly string[]).includes(word)) return 'in';
  return null;
}

/**
 * What is never sent to an opted-out person: everything Taskwire sends on its own
 * initiative. A reply to a message they sent (their STOP's confirmation, a photo's points)
 * still goes: they wrote first.
 */
const unsolicited: ReadonlySet<OutboundKind> = new Set<OutboundKind>([
  'reminder',
  'expiry',
  'assignment',
  'send',
  'share',
  'share_digest',
  'weekly_digest',
  'review_request',
]);

/**
 * Withholds a claimed unsolicited message whose recipient opted out since it was queued;
 * resolves to the reason, or null when it may be sent.
 */
export async function withholdIfOptedOut(
  db: Database,
  job: ClaimedOutbound,
  now: Date,
): Promise<string | null> {
  if (!unsolicited.has(job.kind)) return null;
  return withholdFromOptedOut(db, job, now);
}

/**
 * A send Twilio refused with 21610 (the recipient replied STOP to Twilio itself, e.g. on
 * SMS): the person is opted out here too, so nothing more is tried until they send START.
 */
export async function rememberRefusedRecipient(
  db: Database,
  job: Pick<ClaimedOutbound, 'id'>,
  error: unknown,
  now: Date,
): Promise<void> {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== TWILIO_UNSUBSCRIBED) return;
  await optOutRecipient(db, job.id, now);
}
