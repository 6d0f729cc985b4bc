import http from 'node:http';
import https from 'node:https';

/** One message to send through Twilio's Messages API. */
export interface OutgoingMessage {
  to: string;
  from: string;
  body: string;
  mediaUrls?: string[];
  /**
   * A WhatsApp Content template (`HX…`) sent instead of `body`: the only kind of message
   * WhatsApp delivers outside the 24-hour window. Twilio takes `ContentSid` and
   * `ContentVariables` (a JSON object of strings) and no `Body`.
   */
  content?: { sid: string; variables: Record<string, string> } | null;
}

export interface SendResult {
  sid: string;
  status: string;
  /** True when the message went to the local development outbox, not to Twilio. */
  outbox?: boolean;
}

/**
 * Twilio refused or failed the request. `permanent` for a 4xx other than 429 (invalid
 * number 21211, outside WhatsApp's 24-hour window 63016, …): resending cannot help.
 * 429 and 5xx, and network errors, are worth retrying.
 */
export class TwilioSendError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: number | null,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'TwilioSendError';
  }
}

export type SendMessage = (message: OutgoingMessage) => Promise<SendResult>;

export interface TwilioSenderOptions {
  accountSid: string;
  authToken: string;
  /** TWILIO_API_BASE_URL: tests point it at a local fake of Twilio's API. */
  apiBaseUrl: string;
  /** Where Twilio posts delivery status callbacks (PUBLIC_URL + /webhook/twilio/status). */
  statusCallbackUrl: string | null;
  /** Per-request time limit. */
  timeoutMs?: number;
  /**
   * Connections kept open to Twilio's API (20 unless set): as many as messages are sent
   * at once, so no send waits for a socket or opens a new one.
   */
  maxSockets?: number;
}

/**
 * Sends through Twilio's Messages API (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
 * the form parameters the `twilio` SDK sends) with Node's own HTTP client over kept-alive
 * connections. Not through the SDK: its axios stack cost ~0.65 CPU ms per message in
 * `npm run bench:loop`, of a few ms for the whole loop. The credentials go to `apiBaseUrl`
 * only (a path under it is kept: the simulator's `/simulator`).
 */
export function createTwilioSender(options: TwilioSenderOptions): SendMessage {
  const base = new URL(options.apiBaseUrl);
  const secure = base.protocol === 'https:';
  const agent = new (secure ? https.Agent : http.Agent)({
    keepAlive: true,
    maxSockets: options.maxSockets ?? 20,
  });
  const path = `${base.pathname.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(
    options.accountSid,
  )}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  const timeoutMs = options.timeoutMs ?? 15_000;

  const post = (form: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = (secure ? https : http).request(
        {
          protocol: base.protocol,
          hostname: base.hostname.replace(/^\[|\]$/g, ''),
          port: base.port || undefined,
          method: 'POST',
          path,
          agent,
          headers: {
            authorization,
            accept: 'application/json',
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(form),
            'user-agent': 'taskwire',
          },
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
          response.on('error', reject);
        },
      );
      request.setTimeout(timeoutMs, () =>
        request.destroy(new Error(`no answer within ${timeoutMs} ms`)),
      );
      request.on('error', reject);
      request.end(form);
    });

  return async (message) => {
    const form = new URLSearchParams({ To: message.to, From: message.from });
    if (message.content) {
      form.set('ContentSid', message.content.sid);
      form.set('ContentVariables', JSON.stringify(message.content.variables));
    } else {
      form.set('Body', message.body);
    }
    for (const url of message.mediaUrls ?? []) form.append('MediaUrl', url);
    if (options.statusCallbackUrl) form.set('StatusCallback', options.statusCallbackUrl);

    let answer: { status: number; body: string };
    try {
      answer = await post(form.toString());
    } catch (error) {
      // No answer (refused, reset, timed out): worth retrying.
      throw new TwilioSendError(
        `Twilio request failed: ${(error as Error).message ?? 'unknown error'}`,
        null,
        null,
        false,
      );
    }
    const parsed = parseJson(answer.body);
    if (answer.status >= 200 && answer.status < 300) {
      const { sid, status } = (parsed ?? {}) as { sid?: unknown; status?: unknown };
      if (typeof sid !== 'string' || typeof status !== 'string') {
        throw new TwilioSendError(
          `Twilio ${answer.status} answered without a message SID`,
          answer.status,
          null,
          false,
        );
      }
      return { sid, status };
    }
    // Twilio's error body: { code, message, more_info, status }.
    const e = (parsed ?? {}) as { code?: unknown; message?: unknown };
    const status = answer.status;
    const code = typeof e.code === 'number' ? e.code : null;
    const permanent = status >= 400 && status < 500 && status !== 429;
    throw new TwilioSendError(
      `Twilio ${status} failed${code ? ` (error ${code})` : ''}: ${typeof e.message === 'string' ? e.message : 'unknown error'}`,
      status,
      code,
      permanent,
    );
  };
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
};
