// Phone numbers in free text (Twilio error messages quote them): `+15551234567` →
// `+*********67`. Logs must never carry a full number.
const phoneLike = /\+?\d[\d\s-]{5,}\d/g;

export const maskPhoneNumbers = (text: string): string =>
  text.replace(phoneLike, (match) => {
    const digits = match.replace(/\D/g, '');
    if (digits.length < 7) return match;
    return `${match.startsWith('+') ? '+' : ''}${'*'.repeat(digits.length - 2)}${digits.slice(-2)}`;
  });

/** `whatsapp:+15551234567` → `whatsapp:+*********67`, for log fields. */
export const maskAddress = (address: string): string => maskPhoneNumbers(address);

// In log text a phone number stands on its own, possibly URL-encoded (`%2B1555…`): never
// part of a longer word, so SIDs (`MM1234567…`), hex ids and dotted addresses stay readable.
const standalonePhone = /(?<![\w%+])(?:\+|%2[Bb])?\d[\d\s()-]{5,}\d(?!\w)/g;

/** `+15551234567` → `+*********67` wherever it stands alone in a log string. */
export const maskPhoneNumbersInLogText = (text: string): string =>
  text.replace(standalonePhone, (match) => {
    const digits = match.replace(/^%2[Bb]/, '+').replace(/\D/g, '');
    if (digits.length < 7) return match;
    const plus = /^(\+|%2[Bb])/.test(match) ? '+' : '';
    return `${plus}${'*'.repeat(digits.length - 2)}${digits.slice(-2)}`;
  });

/**
 * A copy of a log record's value with every string masked by maskPhoneNumbersInLogText,
 * through plain objects and arrays (a few levels deep). Errors, dates and buffers are
 * left to their serializers.
 */
export function maskPhoneNumbersDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskPhoneNumbersInLogText(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => maskPhoneNumbersDeep(item, depth + 1));
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value))
    copy[key] = maskPhoneNumbersDeep(item, depth + 1);
  return copy;
}
