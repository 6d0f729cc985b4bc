import { validationFailed } from '../domain/errors.js';
import type { InboundMessage, MediaItem, TwilioParams } from '../domain/message.js';
import { senderFromAddress } from '../domain/message.js';

// Twilio allows at most 10 media items per message.
const MAX_MEDIA = 10;

/**
 * Twilio's SIDs are two letters and 32 hex digits. Anything else (a `/`, a NUL, a space) is
 * refused here: the SID names the message's objects in the bucket, and a SID the worker
 * cannot use would fail there five times instead of once here.
 */
const MESSAGE_SID = /^[A-Za-z0-9]{1,64}$/;

export const isTwilioSid = (value: string): boolean => MESSAGE_SID.test(value);

// U+FFFD rather than nothing: removing the NUL from `whatsapp:+1555\0123` would turn it
// into another person's valid number.
const storable = (text: string): string =>
  text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;

/**
 * The parameters with every NUL (`%00`) replaced: Postgres stores no NUL in `text` (22021)
 * nor in `jsonb` (22P05), and one such row would fail the group-commit INSERT of every
 * webhook sharing it. Run this after the signature check, which needs the parameters as
 * Twilio signed them.
 */
export function storableParams(params: TwilioParams): TwilioParams {
  let cleaned: TwilioParams | null = null;
  for (const [key, value] of Object.entries(params)) {
    const values = Array.isArray(value) ? value : [value];
    if (!key.includes('\u0000') && !values.some((text) => text.includes('\u0000'))) continue;
    cleaned ??= { ...params };
    delete cleaned[key];
    cleaned[storable(key)] = Array.isArray(value) ? value.map(storable) : storable(value);
  }
  return cleaned ?? params;
}

const single = (params: TwilioParams, key: string): string | null => {
  const value = params[key];
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
};

/**
 * Turns the form Twilio posted into a typed inbound message, once, at the edge.
 * Parameters we do not know are kept in `raw` and never rejected: Twilio adds
 * parameters without notice. Text Postgres cannot store (NUL) is replaced, see
 * storableParams.
 */
export function parseInboundParams(signedParams: TwilioParams): InboundMessage {
  const params = storableParams(signedParams);
  const messageSid = single(params, 'MessageSid') ?? single(params, 'SmsMessageSid');
  const from = single(params, 'From');
  const to = single(params, 'To');
  const missing = [messageSid ? null : 'MessageSid', from ? null : 'From', to ? null : 'To'].filter(
    (name): name is string => name !== null,
  );
  if (missing.length > 0) {
    throw validationFailed(
      `Missing Twilio parameter${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}. ` +
        'Point this URL at the "A message comes in" webhook of a Twilio number.',
    );
  }
  if (!isTwilioSid(messageSid as string)) {
    throw validationFailed(
      'MessageSid must be letters and digits only (Twilio sends `SM` or `MM` and 32 hex digits).',
    );
  }
  const numMediaText = single(params, 'NumMedia') ?? '0';
  const numMedia = Number(numMediaText);
  if (!/^\d+$/.test(numMediaText) || numMedia > MAX_MEDIA) {
    throw validationFailed(`NumMedia must be a whole number from 0 to ${MAX_MEDIA}`);
  }
  const mediaItems: MediaItem[] = [];
  for (let index = 0; index < numMedia; index += 1) {
    const url = single(params, `MediaUrl${index}`);
    if (!url) continue;
    mediaItems.push({
      url,
      content_type: single(params, `MediaContentType${index}`) ?? 'application/octet-stream',
    });
  }
  return {
    messageSid: messageSid as string,
    accountSid: single(params, 'AccountSid'),
    from: from as string,
    to: to as string,
    sender: senderFromAddress(from as string),
    body: single(params, 'Body') ?? '',
    numMedia,
    mediaItems,
    profileName: single(params, 'ProfileName'),
    waId: single(params, 'WaId'),
    raw: params,
  };
}

/**
 * The quick-reply button a WhatsApp message is the press of: Twilio posts `ButtonPayload`
 * (the button's id in the Content template) and `ButtonText` (its label) besides `Body`.
 * Null when the message is not a button press.
 */
export function pressedButton(
  params: TwilioParams,
): { payload: string | null; text: string | null } | null {
  const nonEmpty = (key: string) => {
    const value = single(params, key)?.trim();
    return value ? value : null;
  };
  const payload = nonEmpty('ButtonPayload');
  const text = nonEmpty('ButtonText');
  return payload === null && text === null ? null : { payload, text };
}

/**
 * The message a WhatsApp quoted reply answers: Twilio posts `OriginalRepliedMessageSid`,
 * the SID of the message quoted (ours, when someone replies to a review request). Null for
 * a message that quotes nothing, or a value that is no SID.
 */
export function repliedMessageSid(params: TwilioParams): string | null {
  const sid = single(params, 'OriginalRepliedMessageSid')?.trim();
  return sid && isTwilioSid(sid) ? sid : null;
}
