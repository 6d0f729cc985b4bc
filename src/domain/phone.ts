import { validationFailed } from './errors.js';

/** E.164: `+`, a country code that does not start with 0, 7 to 15 digits in all. */
const e164 = /^\+[1-9]\d{6,14}$/;
const channelPrefix = /^whatsapp:/i;
// Separators people type or paste: `+1 555-123 4567`, `+1 (555) 123.4567`.
const separators = /[\s\-().]/g;

/** Whether `value` is already a bare E.164 number (`+15551234567`), nothing to strip. */
export const isE164 = (value: string): boolean => e164.test(value);

/**
 * A phone number as a person or Twilio writes it, in E.164 (`+15551234567`), or null when
 * it is not one: a `whatsapp:` prefix (Twilio's WhatsApp address) and separators are dropped.
 * For callers that report the problem their own way (the configuration, the CLI).
 */
export function normalizePhoneNumber(input: string): string | null {
  const phone = input.trim().replace(channelPrefix, '').replace(separators, '');
  return e164.test(phone) ? phone : null;
}

/**
 * Turns a phone number as a person or Twilio writes it into E.164 (`+15551234567`), as
 * normalizePhoneNumber does. Throws a `validation_failed` error naming `field` when it is
 * not a phone number.
 */
export function parsePhoneNumber(input: string, field = 'phone_number'): string {
  const phone = normalizePhoneNumber(input);
  if (phone === null) {
    throw validationFailed(
      `${field} must be an E.164 phone number: "+" then 7 to 15 digits, e.g. "+15551234567" ` +
        `(a "whatsapp:" prefix, spaces and dashes are allowed); got "${input}".`,
    );
  }
  return phone;
}
