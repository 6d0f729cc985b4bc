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
import { type MessageToSend, type SenderNumbers, queueMessage } from '../services/send-message.js';
import { openDatabase } from './database.js';
import { createSender } from './processing.js';

/** Twilio's WhatsApp Sandbox number, which development uses without TWILIO_WHATSAPP_NUMBER. */
export const WHATSAPP_SANDBOX_NUMBER = '+14155238886';

/**
 * Who a sent message comes from. In development without TWILIO_ACCOUNT_SID (the local
 * outbox) nothing reaches Twilio, so a missing TWILIO_WHATSAPP_NUMBER falls back to the
 * Sandbox number, the one `taskwire simulate` writes to: sending works there as replies
 * do (they answer from the number written to). With a real account, or in production,
 * the sender must be configured.
 */
export function senderNumbers(config: Config): SenderNumbers {
  const outbox = !config.twilio.accountSid && !config.production;
  return {
    whatsapp: config.twilio.whatsappNumber ?? (outbox ? WHATSAPP_SANDBOX_NUMBER : null),
    sms: config.twilio.phoneNumber,
  };
}

/**
 * Records one message and sends it through Twilio right away (`taskwire send` and the
 * library's sendWhatsAppMessage / sendSms); in development without TWILIO_ACCOUNT_SID,
 * into the local outbox. A failure worth retrying leaves it queued for
 * the service's outbound worker; the returned row says which happened.
 */
export function sendNow(config: Config, message: MessageToSend): Promise<OutboundRow> {
  return takingTurns(config, () => openAndSend(config, message));
}

// The embedded database can be open only once at a time, even within one process (see
// lockDataDir): a host application's concurrent sends (`Promise.all` over its recipients)
// take turns on it instead of failing with DataDirLockedError. With Postgres they run at once.
const embeddedTurns = new Map<string, Promise<unknown>>();

function takingTurns<T>(config: Config, work: () => Promise<T>): Promise<T> {
  if (config.databaseUrl) return work();
  const previous = embeddedTurns.get(config.dataDir) ?? Promise.resolve();
  const turn = previous.then(work);
  const settled = turn.catch(() => {});
  embeddedTurns.set(config.dataDir, settled);
  void settled.then(() => {
    if (embeddedTurns.get(config.dataDir) === settled) embeddedTurns.delete(config.dataDir);
  });
  return turn;
}

async function openAndSend(config: Config, message: MessageToSend): Promise<OutboundRow> {
  const opened = await openDatabase(config);
  try {
    const db = opened.db;
    await migrate(db);
    // Recorded and claimed in one transaction: the NOTIFY of the new row is delivered at
    // commit, when it is already ours, so a running service's outbound worker cannot take
    // it first (this send would then report "not sent" for a message the worker sends).
    const { queued, claim } = await db.transaction(async (tx) => {
      const row = await queueMessage(tx, message, senderNumbers(config));
      return { queued: row, claim: await claimOutboundById(tx, row.id, 60_000) };
    });
    if (claim) {
      try {
        await sendOutboundJob({ db, send: createSender(config) })(claim);
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
