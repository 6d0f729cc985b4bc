import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/config.js';
import type { MessageToSend } from '../services/send-message.js';
import { localServiceUrl } from '../start/processing.js';
import { sendNow } from '../start/send-now.js';
import { dataDirHolder } from './service-file.js';

/** What `taskwire send` reports of an outbound message (the API's and the database's row). */
interface SentRow {
  id: number;
  to_number: string;
  twilio_sid: string | null;
  status: string;
  outbox: boolean;
  error_message: string | null;
  attempts: number;
}

/** How long to follow a message the running service's worker sends. */
const FOLLOW_MS = 30_000;

class SendError extends Error {}

/**
 * `taskwire send`. The embedded database belongs to one process: while a `taskwire serve`
 * holds DATA_DIR the message goes through its API (POST /messages/send), and its worker
 * sends it. Otherwise (and always on Postgres, unless --url says where the service is)
 * it is recorded and sent from here, as the library's sendWhatsAppMessage does.
 */
export async function runSend(
  config: Config,
  message: MessageToSend,
  options: { url?: string; print?: (line: string) => void },
): Promise<number> {
  const print = options.print ?? ((line: string) => console.error(line));
  try {
    let url = options.url?.replace(/\/+$/, '');
    if (!url && !config.databaseUrl) {
      const holder = dataDirHolder(config.dataDir);
      if (holder) url = holder.url ?? localServiceUrl(config);
    }
    if (url) {
      const row = await sendThroughService(config, url, message, Boolean(options.url), print);
      if (row) return report(row, print, `through the service at ${url}`);
    }
    return report(await sendNow(config, message), print, null);
  } catch (error) {
    if (error instanceof SendError) {
      print(error.message);
      return 1;
    }
    throw error;
  }
}

/**
 * Posts the message to the service at `url` and follows it until the worker has sent it,
 * failed it or set it aside for a retry. Null when nothing answers there and the caller
 * did not name the address: the direct send then says who holds DATA_DIR.
 */
async function sendThroughService(
  config: Config,
  url: string,
  message: MessageToSend,
  explicit: boolean,
  print: (line: string) => void,
): Promise<SentRow | null> {
  const headers = {
    authorization: `Bearer ${config.apiToken}`,
    'content-type': 'application/json',
  };
  let response: Response;
  try {
    response = await fetch(`${url}/messages/send`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        to: message.to,
        body: message.body,
        channel: message.channel,
        ...(message.mediaUrls?.length ? { media_urls: message.mediaUrls } : {}),
      }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const code = ((error as Error).cause as { code?: string } | undefined)?.code;
    const line = `No Taskwire service answers at ${url}${code ? ` (${code})` : ''}.`;
    if (explicit) throw new SendError(`Not sent: ${line}`);
    print(line);
    return null;
  }
  if (response.status === 401) {
    throw new SendError(
      `Not sent: the service at ${url} refused the API token (401). This CLI uses ${
        config.apiTokenSource === 'env'
          ? 'API_TOKEN'
          : `the development token in ${path.join(config.dataDir, 'secrets.json')}`
      }; run it with the service's .env and DATA_DIR.`,
    );
  }
  if (response.status !== 202) {
    const body = (await response.json().catch(() => null)) as {
      error?: { message?: string };
    } | null;
    throw new SendError(
      `Not sent: ${body?.error?.message ?? `the service at ${url} answered HTTP ${response.status}`}`,
    );
  }
  let row = (await response.json()) as SentRow;
  const deadline = Date.now() + FOLLOW_MS;
  while (isWaiting(row) && Date.now() < deadline) {
    await sleep(100);
    const current = await fetch(`${url}/outbound/${row.id}`, { headers }).catch(() => null);
    if (current?.ok) row = (await current.json()) as SentRow;
  }
  return row;
}

/** Not yet attempted, or being sent; a pending row with attempts waits for a retry. */
const isWaiting = (row: SentRow) =>
  row.status === 'submitting' || (row.status === 'pending' && row.attempts === 0);

function report(row: SentRow, print: (line: string) => void, via: string | null): number {
  const through = via ? ` ${via}` : '';
  if (row.twilio_sid && row.outbox) {
    print(
      `Delivered to the local outbox${through} (TWILIO_ACCOUNT_SID is not set): ${row.twilio_sid}, recorded as outbound message ${row.id}. Nothing was sent to ${row.to_number}.`,
    );
    return 0;
  }
  if (row.twilio_sid) {
    print(
      `Sent to ${row.to_number}${through}: Twilio ${row.twilio_sid} (${row.status}). Recorded as outbound message ${row.id}.`,
    );
    return 0;
  }
  const reason =
    row.error_message ?? (isWaiting(row) ? 'still waiting for a worker' : 'unknown error');
  if (row.status === 'failed') {
    print(`Not sent: ${reason}`);
    return 1;
  }
  print(
    `Not sent yet (${reason}); queued as outbound message ${row.id}: the service's worker will ${row.attempts > 0 ? 'retry' : 'send'} it.`,
  );
  return 1;
}
