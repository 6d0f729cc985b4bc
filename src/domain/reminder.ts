/**
 * Glossary
 * - Reminder stage: one of REMINDER_OFFSETS (minutes before a task's due time). Each
 *   active task has one row per stage in `task_reminders`; a stage is sent at most once.
 *   Stages nearer the due time are more urgent in tone.
 * - Expiry notice: what a user is told once when their task's due time passed without a
 *   photo; kept in the same table (kind `expiry`).
 * - 24-hour window: WhatsApp lets a business send free-form text only within 24 hours of
 *   the user's last message; outside it only an approved Content template is delivered.
 */

// `assignment`: the notice that an admin gave the person the task (offset 0, due at once).
export const reminderKinds = ['reminder', 'expiry', 'assignment'] as const;
export type ReminderKind = (typeof reminderKinds)[number];

export const reminderStatuses = ['pending', 'sent', 'skipped', 'cancelled'] as const;
export type ReminderStatus = (typeof reminderStatuses)[number];

export const reminderChannels = ['whatsapp', 'template', 'sms'] as const;
export type ReminderChannel = (typeof reminderChannels)[number];

/** A row of `task_reminders`. */
export interface ReminderRow {
  id: number;
  task_id: number;
  kind: ReminderKind;
  /** Minutes before the due time (0 for the expiry notice). */
  offset_minutes: number;
  send_at: Date;
  status: ReminderStatus;
  channel: ReminderChannel | null;
  /** Why it was skipped or cancelled. */
  reason: string | null;
  outbound_message_id: number | null;
  decided_at: Date | null;
}

/** REMINDER_OFFSETS' default: an hour before the due time, then a quarter of an hour. */
export const DEFAULT_REMINDER_OFFSETS: readonly number[] = [60, 15];

/**
 * How long after a task's due time the scheduler waits before expiring it. A webhook that
 * arrived just before the due time is stamped (`created_at`) when its insert starts but
 * only visible once the insert commits, a few milliseconds later; expiring in between
 * would refuse a photo sent in time. A photo's own processing needs no grace: it compares
 * its `created_at` with the due time directly.
 */
export const EXPIRY_GRACE_MS = 5_000;

/** WhatsApp's customer-service window: free-form messages only this long after the user wrote. */
export const WHATSAPP_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Whether a free-form WhatsApp message sent at `now` is inside the user's 24-hour window. */
export const insideWhatsAppWindow = (lastInboundAt: Date | null, now: Date): boolean =>
  lastInboundAt !== null && now.getTime() - lastInboundAt.getTime() < WHATSAPP_WINDOW_MS;

/**
 * How urgent a stage is among the configured offsets (largest first): the last stage
 * before the due time is `urgent`, the one before it `firm`, earlier ones `gentle`.
 */
export function reminderTone(
  offsetMinutes: number,
  offsets: readonly number[],
): 'gentle' | 'firm' | 'urgent' {
  const smaller = offsets.filter((m) => m < offsetMinutes).length;
  if (smaller === 0) return 'urgent';
  return smaller === 1 ? 'firm' : 'gentle';
}

/** `1 hour`, `15 minutes`, `2 hours 5 minutes`: a duration as a person says it. */
export function describeMinutes(totalMinutes: number): string {
  const minutes = Math.max(0, Math.round(totalMinutes));
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  const part = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (hours === 0) return part(rest, 'minute');
  return rest === 0 ? part(hours, 'hour') : `${part(hours, 'hour')} ${part(rest, 'minute')}`;
}
