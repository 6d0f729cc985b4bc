import { validationFailed } from '../domain/errors.js';
import type { InboundMessage, MediaItem, TwilioParams } from '../domain/message.js';
import { senderFromAddress } from '../domain/message.js';

// Twilio allows at most 10 media items per message.
const MAX_MEDIA = 10;

const single = (params: TwilioParams, key: string): string | null => {
  const value = params[key];
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
};

/**
 * Turns the form Twilio posted into a typed inbound message, once, at the edge.
 * Parameters we do not know are kept in `raw` and never rejected: Twilio adds
 * parameters without notice.
 */
export function parseInboundParams(params: TwilioParams): InboundMessage {
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
