/**
 * Taskwire as a library: the guide's `send_whatsapp_message`, and the pieces a host
 * application needs to embed the service.
 */
import { loadConfig, type Config } from './config/config.js';
import { loadOrCreateDevSecrets } from './config/dev-secrets.js';
import { readEnvironment } from './config/env-file.js';
import type { OutboundRow } from './db/outbound.js';
import { sendNow } from './start/send-now.js';

export { buildApp, type AppDeps } from './http/app.js';
export { loadConfig, ConfigError, type Config } from './config/config.js';
export { startService, type RunningService } from './start/service.js';
export type { OutboundRow } from './db/outbound.js';

export interface SendOptions {
  /** Media to attach (public URLs Twilio can fetch). */
  mediaUrls?: string[];
  /** Configuration to use instead of the environment and `.env`. */
  config?: Config;
}

const configFromEnvironment = (): Config =>
  loadConfig(readEnvironment(process.env, process.cwd()), { devSecrets: loadOrCreateDevSecrets });

/**
 * Sends a WhatsApp message from TWILIO_WHATSAPP_NUMBER, records it in the outbound
 * messages table, and resolves to the recorded row (status, Twilio SID or error).
 */
export function sendWhatsAppMessage(
  to: string,
  body: string,
  options: SendOptions = {},
): Promise<OutboundRow> {
  return sendNow(options.config ?? configFromEnvironment(), {
    to,
    body,
    channel: 'whatsapp',
    mediaUrls: options.mediaUrls,
  });
}

/** Sends an SMS from TWILIO_PHONE_NUMBER; otherwise as sendWhatsAppMessage. */
export function sendSms(to: string, body: string, options: SendOptions = {}): Promise<OutboundRow> {
  return sendNow(options.config ?? configFromEnvironment(), {
    to,
    body,
    channel: 'sms',
    mediaUrls: options.mediaUrls,
  });
}
