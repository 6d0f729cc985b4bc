import type { Twilio } from 'twilio';
import { type UnansweredRequest, keptAliveRequestClient } from './request-client.js';

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
 * 429 and 5xx, and network errors, are worth retrying. `outcomeUnknown` when Twilio may
 * have created the message all the same: the request was sent and no answer came (a
 * timeout, a connection broken mid-way), or a 5xx, which a gateway in front of the API can
 * answer for a request the API went on to carry out.
 */
export class TwilioSendError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: number | null,
    readonly permanent: boolean,
    readonly outcomeUnknown = false,
  ) {
    super(message);
    this.name = 'TwilioSendError';
  }
}

/** A message Twilio created, as its Messages list shows it. */
export interface CreatedMessage {
  sid: string;
  status: string;
  body: string;
  createdAt: Date;
}

/**
 * The messages created through the API from `from` to `to` since `since` (to the second,
 * as Twilio keeps it), found among the 100 most recent of that conversation.
 */
export type FindCreatedMessages = (query: {
  to: string;
  from: string;
  since: Date;
}) => Promise<CreatedMessage[]>;

export type SendMessage = ((message: OutgoingMessage) => Promise<SendResult>) & {
  /**
   * How to find out whether an attempt with an unknown outcome created its message (see
   * src/services/earlier-send.ts). Absent (the development outbox, tests' stand-ins): such
   * an attempt is retried as it is.
   */
  findCreated?: FindCreatedMessages;
};

export interface TwilioSenderOptions {
  accountSid: string;
  authToken: string;
  /** TWILIO_API_BASE_URL: tests point it at a local fake of Twilio's API. */
  apiBaseUrl: string;
  /** Where Twilio posts delivery status callbacks (PUBLIC_URL + /webhook/twilio/status). */
  statusCallbackUrl: string | null;
  /** Per-request time limit (15 s unless set), for the whole request: see request-client.ts. */
  timeoutMs?: number;
  /**
   * Connections kept open to Twilio's API (20 unless set): as many as messages are sent
   * at once, so no send waits for a socket or opens a new one.
   */
  maxSockets?: number;
}

/**
 * Sends through the official `twilio` SDK, over Node's own kept-alive HTTP client
 * (request-client.ts). The credentials go to `apiBaseUrl` only. The SDK (a third of a second
 * to import) is loaded by the first send, not at start-up.
 */
export function createTwilioSender(options: TwilioSenderOptions): SendMessage {
  let loading: Promise<Twilio> | null = null;
  const loadClient = async (): Promise<Twilio> => {
    const { default: twilio } = await import('twilio');
    const timeoutMs = options.timeoutMs ?? 15_000;
    const client = twilio(options.accountSid, options.authToken, {
      timeout: timeoutMs,
      autoRetry: false,
      httpClient: keptAliveRequestClient(twilio.RequestClient, {
        maxSockets: options.maxSockets ?? 20,
        timeoutMs,
      }),
    });
    client.api.baseUrl = options.apiBaseUrl;
    return client;
  };
  const clientOnce = (): Promise<Twilio> => {
    // A failed load is tried again by the next send (the worker retries it), not kept.
    loading ??= loadClient().catch((error: unknown) => {
      loading = null;
      throw error;
    });
    return loading;
  };

  const send = async (message: OutgoingMessage): Promise<SendResult> => {
    const client = await clientOnce();
    try {
      const created = await client.messages.create({
        to: message.to,
        from: message.from,
        ...(message.content
          ? {
              contentSid: message.content.sid,
              contentVariables: JSON.stringify(message.content.variables),
            }
          : { body: message.body }),
        ...(message.mediaUrls && message.mediaUrls.length > 0
          ? { mediaUrl: message.mediaUrls }
          : {}),
        ...(options.statusCallbackUrl ? { statusCallback: options.statusCallbackUrl } : {}),
      });
      return { sid: created.sid, status: created.status };
    } catch (error) {
      const e = error as { status?: number; code?: number; message?: string };
      const status = typeof e.status === 'number' ? e.status : null;
      const code = typeof e.code === 'number' ? e.code : null;
      const permanent = status !== null && status >= 400 && status < 500 && status !== 429;
      // Only a request that certainly never reached Twilio (refused, no such host) has a
      // known outcome without an answer; an error from elsewhere counts as unknown.
      const unanswered = (error as Partial<UnansweredRequest>).requestSent;
      const outcomeUnknown = status === null ? unanswered !== false : status >= 500;
      throw new TwilioSendError(
        `Twilio ${status ?? 'request'} failed${code ? ` (error ${code})` : ''}: ${e.message ?? 'unknown error'}`,
        status,
        code,
        permanent,
        outcomeUnknown,
      );
    }
  };

  // One page (one request) of the messages from `from` to `to`, most recent first: the
  // attempt being checked is recent, so its message, if any, is among them.
  const findCreated: FindCreatedMessages = async ({ to, from, since }) => {
    const client = await clientOnce();
    const page = await client.messages.page({ to, from, pageSize: CREATED_LOOKUP_PAGE });
    const sinceSecond = Math.floor(since.getTime() / 1000) * 1000;
    return page.instances
      .filter((m) => m.direction === 'outbound-api' && m.dateCreated.getTime() >= sinceSecond)
      .map((m) => ({ sid: m.sid, status: m.status, body: m.body, createdAt: m.dateCreated }));
  };

  return Object.assign(send, { findCreated });
}

/**
 * Messages read per lookup of an attempt with an unknown outcome. Twilio orders its list
 * by the time each was sent, newest first, so a message still queued at Twilio may sit
 * behind later ones: a hundred leaves room for a busy conversation.
 */
const CREATED_LOOKUP_PAGE = 100;
