import { randomBytes } from 'node:crypto';
import { type SendMessage, TwilioSendError } from './sender.js';

/** Twilio's limit for one message body, which the outbox keeps so development meets it too. */
const MAX_BODY_LENGTH = 1600;

/** A local id shaped like a Twilio SID: `OB` ("outbox") and 32 hex characters. */
export const newOutboxSid = (): string => `OB${randomBytes(16).toString('hex')}`;

/**
 * The sender used in development when TWILIO_ACCOUNT_SID is not set: nothing leaves the
 * machine. The message is "delivered" to the local outbox, which is the outbound_messages
 * row itself: it goes through the same pending → submitting → `sent` flow as a real send,
 * gets a local SID in `twilio_sid` and `outbox = true`, and shows in GET /outbound.
 * Twilio's own refusals of a malformed message are kept, so development meets them early.
 */
export function createOutboxSender(): SendMessage {
  return async (message) => {
    if (!message.to)
      throw new TwilioSendError("A 'To' phone number is required.", 400, 21604, true);
    if (!message.from) {
      throw new TwilioSendError("A 'From' phone number is required.", 400, 21603, true);
    }
    if (!message.body && !message.content && (message.mediaUrls ?? []).length === 0) {
      throw new TwilioSendError(
        'A text message body or media urls must be specified.',
        400,
        21619,
        true,
      );
    }
    if (message.body.length > MAX_BODY_LENGTH) {
      throw new TwilioSendError(
        `The message body exceeds the ${MAX_BODY_LENGTH} character limit.`,
        400,
        21617,
        true,
      );
    }
    return { sid: newOutboxSid(), status: 'sent', outbox: true };
  };
}
