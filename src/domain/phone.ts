import { validationFailed } from './errors.js';

/** E.164: `+`, a country code that does not start with 0, 7 to 15 digits in all. */
const e164 = /^\+[1-9]\d{6,14}$/;
const channelPrefix = /^whatsapp:/i;
// Separators people type or paste: `+1 555-123 4567`, `+1 (555) 123.4567`.
const separators = /[\s\-().]/g;

/**
 * Turns a phone number as a person or Twilio writes it into E.164 (`+15551234567`):
 * a `whatsapp:` prefix (Twilio's WhatsApp address) and separators are dropped.
 * Throws a `validation_failed` error naming `field` when it is not a phone number.
 */
export function parsePhoneNumber(input: string, field = 'phone_number'): string {
  const phone = input.trim().replace(channelPrefix, '').replace(separators, '');
  if (!e164.test(phone)) {
    throw validationFailed(
      `${field} must be an E.164 phone number: "+" then 7 to 15 digits, e.g. "+15551234567" ` +
        `(a "whatsapp:" prefix, spaces and dashes are allowed); got "${input}".`,
    );
  }
  return phone;
}
