import type { Config } from '../config/config.js';
import { migrate } from '../db/migrate.js';
import {
  type OutboundRow,
  claimOutboundById,
  findOutbound,
  markOutboundFailed,
} from '../db/outbound.js';
import { describeError, isPermanent } from '../domain/processing-errors.js';
import { sendOutboundJob } from '../jobs/send-outbound.js';
import { type MessageToSend, queueMessage } from '../services/send-message.js';
import { createTwilioSender } from '../twilio/sender.js';
import { openDatabase } from './database.js';

/**
 * Records one message and sends it through Twilio right away (`taskwire send` and the
 * library's sendWhatsAppMessage / sendSms). A failure worth retrying leaves it queued for
 * the service's outbound worker; the returned row says which happened.
 */
export async function sendNow(config: Config, message: MessageToSend): Promise<OutboundRow> {
  const opened = await openDatabase(config);
  try {
    const db = opened.db;
    await migrate(db);
    const queued = await queueMessage(db, message, {
      whatsapp: config.twilio.whatsappNumber,
      sms: config.twilio.phoneNumber,
    });
    const claim = await claimOutboundById(db, queued.id, 60_000);
    if (claim) {
      const send = config.twilio.accountSid
        ? createTwilioSender({
            accountSid: config.twilio.accountSid,
            authToken: config.twilio.authToken,
            apiBaseUrl: config.twilio.apiBaseUrl,
            statusCallbackUrl: config.publicUrl
              ? `${config.publicUrl}/webhook/twilio/status`
              : null,
          })
        : null;
      try {
        await sendOutboundJob({ db, send })(claim);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        await markOutboundFailed(db, claim, {
          error: describeError(error),
          final: isPermanent(error),
          retryInMs: 0,
          code: typeof code === 'number' ? code : null,
        });
      }
    }
    return (await findOutbound(db, queued.id)) as OutboundRow;
  } finally {
    await opened.release();
  }
}
