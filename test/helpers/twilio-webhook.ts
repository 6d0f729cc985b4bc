import { randomBytes } from 'node:crypto';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';

export const TEST_ACCOUNT_SID = `AC${'a1'.repeat(16)}`;
export const TEST_AUTH_TOKEN = 'test-twilio-auth-token-0123456789';
export const TEST_API_TOKEN = 'test-api-token-0123456789abcdef';

/** A MessageSid shaped like Twilio's: `SM` (or `MM` with media) and 32 hex characters. */
export const newMessageSid = (prefix: 'SM' | 'MM' = 'SM') =>
  `${prefix}${randomBytes(16).toString('hex')}`;

export interface WhatsAppMessageOptions {
  from?: string;
  to?: string;
  body?: string;
  profileName?: string;
  media?: { url: string; contentType: string }[];
  messageSid?: string;
  extra?: Record<string, string>;
}

/** The form parameters Twilio posts for an inbound WhatsApp message. */
export function whatsAppParams(options: WhatsAppMessageOptions = {}): Record<string, string> {
  const from = options.from ?? '+15551234567';
  const media = options.media ?? [];
  const sid = options.messageSid ?? newMessageSid(media.length > 0 ? 'MM' : 'SM');
  const params: Record<string, string> = {
    SmsMessageSid: sid,
    NumMedia: String(media.length),
    ProfileName: options.profileName ?? 'Ada',
    MessageType: media.length > 0 ? 'image' : 'text',
    SmsSid: sid,
    WaId: from.replace(/^\+/, ''),
    SmsStatus: 'received',
    Body: options.body ?? 'Done!',
    To: `whatsapp:${options.to ?? '+14155238886'}`,
    NumSegments: '1',
    ReferralNumMedia: '0',
    MessageSid: sid,
    AccountSid: TEST_ACCOUNT_SID,
    From: `whatsapp:${from}`,
    ApiVersion: '2010-04-01',
    ...options.extra,
  };
  media.forEach((item, index) => {
    params[`MediaUrl${index}`] = item.url;
    params[`MediaContentType${index}`] = item.contentType;
  });
  return params;
}

/** The X-Twilio-Signature Twilio would send for this URL and form. */
export const signTwilio = (
  url: string,
  params: Record<string, string>,
  authToken = TEST_AUTH_TOKEN,
) => getExpectedTwilioSignature(authToken, url, params);

/** A ready-to-send signed form post: body, headers. */
export function signedForm(
  url: string,
  params: Record<string, string>,
  authToken = TEST_AUTH_TOKEN,
): { payload: string; headers: Record<string, string> } {
  return {
    payload: new URLSearchParams(params).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signTwilio(url, params, authToken),
    },
  };
}
