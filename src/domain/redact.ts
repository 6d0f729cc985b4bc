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
