import type { Queryable } from '../db/executor.js';
import { type OutboundRow, enqueueOutbound } from '../db/outbound.js';
import { unprocessable, validationFailed } from '../domain/errors.js';
import { normalizePhoneNumber } from '../domain/phone.js';

export type Channel = 'whatsapp' | 'sms';

/** Our senders: TWILIO_WHATSAPP_NUMBER and TWILIO_PHONE_NUMBER (E.164, no prefix). */
export interface SenderNumbers {
  whatsapp: string | null;
  sms: string | null;
}

export interface MessageToSend {
  to: string;
  body: string;
  channel: Channel;
  mediaUrls?: string[];
}

/** Addresses for Twilio: `whatsapp:+1555…` on WhatsApp, the bare number for SMS. */
export function addressMessage(
  message: MessageToSend,
  numbers: SenderNumbers,
): { to: string; from: string } {
  const to = normalizePhoneNumber(message.to);
  if (to === null) {
    throw validationFailed(
      `"to" must be an E.164 phone number such as +15551234567, got "${message.to}".`,
    );
  }
  if (message.channel === 'whatsapp') {
    if (!numbers.whatsapp) {
      throw unprocessable(
        'TWILIO_WHATSAPP_NUMBER is not set: there is no WhatsApp sender to send from.',
      );
    }
    return { to: `whatsapp:${to}`, from: `whatsapp:${numbers.whatsapp}` };
  }
  if (!numbers.sms) {
    throw unprocessable('TWILIO_PHONE_NUMBER is not set: there is no SMS number to send from.');
  }
  return { to, from: numbers.sms };
}

/**
 * Records a message to send (the guide's send_whatsapp_message); the outbound worker
 * sends it, retries it on Twilio 429/5xx, and its status follows Twilio's callbacks.
 */
export async function queueMessage(
  db: Queryable,
  message: MessageToSend,
  numbers: SenderNumbers,
): Promise<OutboundRow> {
  if (!message.body.trim() && (message.mediaUrls ?? []).length === 0) {
    throw validationFailed('"body" must not be empty (or give media_urls).');
  }
  const { to, from } = addressMessage(message, numbers);
  const row = await enqueueOutbound(db, {
    kind: 'send',
    inboundMessageId: null,
    userId: null,
    to,
    from,
    body: message.body,
    mediaUrls: message.mediaUrls ?? [],
  });
  if (!row) throw new Error('queueMessage: the outbound row was not created');
  return row;
}
