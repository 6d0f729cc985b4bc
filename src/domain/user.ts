import { validationFailed } from './errors.js';

/**
 * Glossary
 * - User: a person in the group, matched to inbound messages by their sender: a phone
 *   number (`+15551234567`) or, for a WhatsApp user who hides their number behind a
 *   username, their WhatsApp id (Twilio's `From` is then `whatsapp:<id>`).
 * - Points: the sum of the points of the tasks the user completed.
 */

/** A row of `users`, in the guide's column names plus the additive ones. */
export interface UserRow {
  id: number;
  created_at: Date;
  username: string;
  /** E.164; null only for users created outside this API (the column is nullable). */
  phone_number: string | null;
  points: number;
  /** The WhatsApp id without `whatsapp:`, for users who write from a WhatsApp username. */
  whatsapp_id: string | null;
  /** IANA time zone name, e.g. `Europe/Paris`. */
  timezone: string | null;
  /** When the user last wrote to us, on any channel. */
  last_inbound_at: Date | null;
  /** When the user last wrote on WhatsApp: what opens WhatsApp's 24-hour window. */
  last_whatsapp_inbound_at: Date | null;
  /**
   * When the person opted out (STOP, or Twilio's error 21610), null while they are opted
   * in: nothing is sent to them on Taskwire's initiative until they send START.
   */
  opted_out_at: Date | null;
  /** How they opted out: `keyword` (a STOP word) or `twilio_21610`; null while opted in. */
  opt_out_source: OptOutSource | null;
}

export type OptOutSource = 'keyword' | 'twilio_21610';

export const USERNAME_MAX_LENGTH = 100;

/** Trims a username and checks it is 1 to 100 characters. */
export function parseUsername(input: string): string {
  const username = input.trim();
  if (username.length === 0 || username.length > USERNAME_MAX_LENGTH) {
    throw validationFailed(
      `username must be 1 to ${USERNAME_MAX_LENGTH} characters once spaces are trimmed.`,
    );
  }
  return username;
}

/**
 * Checks an IANA time zone name (`Europe/Paris`, `UTC`) with the runtime's own database.
 * The name is kept as given: ICU would rename some (`Asia/Kolkata` → `Asia/Calcutta`).
 */
export function parseTimezone(input: string): string {
  const timezone = input.trim();
  // Recent runtimes also accept offsets (`+01:00`); those are not zone names and do not
  // follow daylight saving time.
  let valid = timezone.length > 0 && !/^[+-]/.test(timezone);
  if (valid) {
    try {
      new Intl.DateTimeFormat(undefined, { timeZone: timezone });
    } catch {
      valid = false;
    }
  }
  if (!valid) {
    throw validationFailed(
      `timezone must be an IANA time zone name such as "Europe/Paris" or "UTC"; got "${input}".`,
    );
  }
  return timezone;
}

const whatsappIdPattern = /^[A-Za-z0-9+][A-Za-z0-9._+-]{0,127}$/;

/**
 * A WhatsApp id as Twilio's `From` carries it after `whatsapp:` (e.g. the business-scoped
 * user id `US.13491208655302741918`); a `whatsapp:` prefix in the input is dropped.
 */
export function parseWhatsappId(input: string): string {
  const id = input.trim().replace(/^whatsapp:/i, '');
  if (!whatsappIdPattern.test(id)) {
    throw validationFailed(
      'whatsapp_id must be the id after "whatsapp:" in Twilio\'s From, 1 to 128 letters, ' +
        `digits, ".", "_", "+" or "-" (e.g. "US.13491208655302741918"); got "${input}".`,
    );
  }
  return id;
}
