/**
 * A fake of Twilio's REST API for tests, on 127.0.0.1, shaped after Twilio's published
 * OpenAPI description, as test/fixtures/twilio-messages-api.ts records it (checked against
 * ../shared/twilio/messages-api-v2010.openapi.json by test/twilio-messages-api.test.ts):
 * the same paths, form-encoded requests, JSON resources, `{ code, message, more_info, status }` errors and
 * HTTP basic auth with AccountSid:AuthToken.
 *
 * Media works as it does at Twilio: the MediaUrl on the API origin checks the credentials
 * and redirects to a second origin (the "CDN", S3 at Twilio) that serves the bytes from a
 * presigned URL and, like S3, rejects any request that also carries an Authorization header.
 */
import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../helpers/twilio-webhook.js';

export interface TwilioErrorSpec {
  status: number;
  code: number;
  message?: string;
}

export interface FakeMediaOptions {
  bytes: Buffer;
  /** The Content-Type the CDN answers with; null sends none. */
  contentType: string | null;
  /** Groups items under one message; a new `MM…` SID by default. */
  messageSid?: string;
  /** The first N authorised GETs of the MediaUrl fail with `failStatus` (default 404). */
  failFirst?: number;
  failStatus?: number;
  /** Twilio error code in the failure body; by default one that fits the status. */
  failCode?: number;
  /** Sends the headers and half the body, then pauses this long before the rest. */
  stallMs?: number;
  /**
   * Sends no Content-Length (chunked), so the size is only known by counting. (A body
   * longer than a Content-Length cannot be sent: HTTP/1.1 ends the message at that length.)
   */
  lieAboutLength?: boolean;
  /** Serves the bytes from the API origin itself instead of redirecting to the CDN. */
  noRedirect?: boolean;
  /** Status of the API's redirect; Twilio answers 307. */
  redirectStatus?: 301 | 302 | 303 | 307 | 308;
  /** Extra redirects from the CDN to itself before it serves the bytes. */
  cdnHops?: number;
}

export interface FakeMedia {
  /** The MediaUrlN Twilio would post in the webhook. */
  readonly url: string;
  readonly sid: string;
  readonly messageSid: string;
  /** GETs of the media URL on the API origin, authorised or not. */
  apiRequests: number;
  /** Requests the CDN received for this item, redirect hops included. */
  cdnRequests: number;
  /** True if any request to the CDN for this item carried an Authorization header. */
  cdnAuthorizationSeen: boolean;
  /** True once the last byte was handed to the socket. */
  bodyComplete: boolean;
  deleted: boolean;
}

export interface RecordedRequest {
  server: 'api' | 'cdn';
  method: string;
  path: string;
  hasAuthorization: boolean;
  status: number;
}

export interface RecordedMessageCreate {
  accountSid: string;
  /** Every parameter; a repeated one (MediaUrl) keeps its last value here, all in `form`. */
  params: Record<string, string>;
  form: URLSearchParams;
  mediaUrls: string[];
  headers: IncomingHttpHeaders;
  status: number;
  /** The SID of the Message created, or null when the request failed. */
  sid: string | null;
}

export interface FakeTwilio {
  readonly accountSid: string;
  readonly authToken: string;
  /** e.g. http://127.0.0.1:PORT: TWILIO_API_BASE_URL, or `client.api.baseUrl` for the SDK. */
  readonly apiBaseUrl: string;
  readonly cdnBaseUrl: string;
  readonly requests: RecordedRequest[];
  /** Every POST to Messages.json that passed authentication, in order. */
  readonly messageRequests: RecordedMessageCreate[];
  /** Message resources created, by SID. */
  readonly messages: Map<string, Record<string, unknown>>;
  /** SIDs of media deleted through DELETE. */
  readonly mediaDeletes: string[];
  addMedia(options: FakeMediaOptions): FakeMedia;
  /** The next `count` message creations fail with this error. */
  failNext(count: number, error: TwilioErrorSpec): void;
  /**
   * The next `count` message creations get no answer: the connection stays open, silent,
   * until the client gives up (or the fake closes). With `created`, the message is created
   * all the same, as when Twilio's answer is lost on the way back.
   */
  answerNothingNext(count: number, options: { created: boolean }): void;
  close(): Promise<void>;
}

export const newSid = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`;

/** The CDN origin of each running fake, by its API base URL (see fakeTwilioCdnFor). */
const runningCdns = new Map<string, string>();

/**
 * The CDN origin of the running fake Twilio at `apiBaseUrl`: a service pointed at the fake
 * must allow redirects there (MEDIA_REDIRECT_ALLOWLIST), as it allows Twilio's CDN.
 */
export const fakeTwilioCdnFor = (apiBaseUrl: string): string | undefined =>
  runningCdns.get(apiBaseUrl);

/** RFC 2822 as Twilio writes it: `Thu, 24 Aug 2023 05:01:45 +0000`. */
const rfc2822 = (date: Date) => date.toUTCString().replace('GMT', '+0000');

const defaultErrors: Record<number, { code: number; message: string }> = {
  400: { code: 20001, message: 'Bad request' },
  401: { code: 20003, message: 'Authenticate' },
  403: { code: 20403, message: 'Forbidden' },
  404: { code: 20404, message: 'The requested resource was not found' },
  429: { code: 20429, message: 'Too Many Requests' },
  500: { code: 20500, message: 'An internal server error has occurred' },
  503: { code: 20503, message: 'Service unavailable' },
};

interface MediaEntry {
  state: FakeMedia;
  options: FakeMediaOptions;
  failuresLeft: number;
  createdAt: Date;
}

export interface FakeTwilioOptions {
  accountSid?: string;
  authToken?: string;
  /**
   * For load (bench/loop.ts): record nothing per request — `requests`, `messageRequests`
   * and `messages` stay empty (a GET of a created message answers 404), so memory and
   * time per request stay flat at thousands of requests a second.
   */
  lean?: boolean;
  /** Called as each authenticated Messages.json POST arrives (its form parameters). */
  onMessageCreate?: (params: Record<string, string>) => void;
  /** Answers a message creation this many milliseconds late, like the real API's latency. */
  messagesLatencyMs?: number;
}

export async function startFakeTwilio(options: FakeTwilioOptions = {}): Promise<FakeTwilio> {
  const lean = options.lean ?? false;
  const accountSid = options.accountSid ?? TEST_ACCOUNT_SID;
  const authToken = options.authToken ?? TEST_AUTH_TOKEN;
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  const requests: RecordedRequest[] = [];
  const messageRequests: RecordedMessageCreate[] = [];
  const messages = new Map<string, Record<string, unknown>>();
  const mediaDeletes: string[] = [];
  const media = new Map<string, MediaEntry>();
  const injected: TwilioErrorSpec[] = [];
  const unanswered: { created: boolean }[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const api = createServer((req, res) => {
    record(req, res, 'api');
    void handleApi(req, res).catch((error: unknown) => {
      sendError(res, 500, 20500, `fake Twilio failed: ${String(error)}`);
    });
  });
  const cdn = createServer((req, res) => {
    record(req, res, 'cdn');
    handleCdn(req, res);
  });
  const apiBaseUrl = await listen(api);
  const cdnBaseUrl = await listen(cdn);
  runningCdns.set(apiBaseUrl, cdnBaseUrl);

  function record(req: IncomingMessage, res: ServerResponse, server: 'api' | 'cdn') {
    if (lean) return;
    const entry: RecordedRequest = {
      server,
      method: req.method ?? '',
      path: req.url ?? '',
      hasAuthorization: req.headers.authorization !== undefined,
      status: 0,
    };
    requests.push(entry);
    res.once('finish', () => (entry.status = res.statusCode));
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', apiBaseUrl).pathname;
    const route =
      /^\/2010-04-01\/Accounts\/([^/]+)\/Messages(?:\.json|\/([^/.]+)(?:\.json|\/Media\/([^/.]+)(\.json)?))$/.exec(
        path,
      );
    const mediaEntry = route?.[3] ? media.get(route[3]) : undefined;
    if (mediaEntry && req.method === 'GET' && !route?.[4]) mediaEntry.state.apiRequests += 1;
    if (req.headers.authorization !== expectedAuth) {
      res.setHeader('WWW-Authenticate', 'Basic realm="Twilio API"');
      return sendError(res, 401, 20003, 'Authenticate');
    }
    if (!route || route[1] !== accountSid) return notFound(res, path);
    const [, , messageSid, mediaSid, json] = route;

    if (!messageSid && req.method === 'POST') return createMessage(req, res);
    if (!messageSid && req.method === 'GET') return listMessages(req, res);
    if (messageSid && !mediaSid && req.method === 'GET') {
      const message = messages.get(messageSid);
      return message ? sendJson(res, 200, message) : notFound(res, path);
    }
    if (!mediaEntry || mediaEntry.state.messageSid !== messageSid || mediaEntry.state.deleted) {
      return notFound(res, path);
    }
    if (req.method === 'DELETE') {
      mediaEntry.state.deleted = true;
      mediaDeletes.push(mediaEntry.state.sid);
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'GET') return sendError(res, 405, 20004, 'Method not allowed');
    if (json) return sendJson(res, 200, mediaResource(mediaEntry));
    if (mediaEntry.failuresLeft > 0) {
      mediaEntry.failuresLeft -= 1;
      const status = mediaEntry.options.failStatus ?? 404;
      const fallback = defaultErrors[status] ?? { code: 20500, message: 'Error' };
      return sendError(res, status, mediaEntry.options.failCode ?? fallback.code, fallback.message);
    }
    if (mediaEntry.options.noRedirect) return serveBytes(res, mediaEntry);
    res.writeHead(mediaEntry.options.redirectStatus ?? 307, { Location: cdnUrl(mediaEntry, 0) });
    res.end();
  }

  async function createMessage(req: IncomingMessage, res: ServerResponse) {
    const form = new URLSearchParams(await readBody(req));
    const params = Object.fromEntries(form);
    const mediaUrls = form.getAll('MediaUrl');
    const recorded: RecordedMessageCreate = {
      accountSid,
      params,
      form,
      mediaUrls,
      headers: req.headers,
      status: 0,
      sid: null,
    };
    if (!lean) messageRequests.push(recorded);
    options.onMessageCreate?.(params);
    if (options.messagesLatencyMs) await delay(options.messagesLatencyMs, res);
    const fail = (status: number, code: number, message: string) => {
      recorded.status = status;
      sendError(res, status, code, message);
    };
    const silence = unanswered.shift();
    if (silence && !silence.created) return;
    const injectedError = injected.shift();
    if (injectedError) {
      const fallback = defaultErrors[injectedError.status]?.message ?? 'Error';
      return fail(injectedError.status, injectedError.code, injectedError.message ?? fallback);
    }
    if (!params.To) return fail(400, 21604, "A 'To' phone number is required.");
    if (!params.From && !params.MessagingServiceSid) {
      return fail(400, 21603, "A 'From' phone number is required.");
    }
    if (params.MessagingServiceSid && !/^MG[0-9a-fA-F]{32}$/.test(params.MessagingServiceSid)) {
      return fail(400, 21701, 'The Messaging Service Sid is invalid.');
    }
    if (params.ContentSid && !/^HX[0-9a-fA-F]{32}$/.test(params.ContentSid)) {
      return fail(400, 21655, 'The ContentSid is Invalid.');
    }
    if (!params.Body && mediaUrls.length === 0 && !params.ContentSid) {
      return fail(400, 21619, 'A text message body or media urls must be specified.');
    }
    if ((params.Body ?? '').length > 1600) {
      return fail(400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
    }
    const sid = newSid('SM');
    const now = rfc2822(new Date());
    const base = `/2010-04-01/Accounts/${accountSid}/Messages/${sid}`;
    const message = {
      account_sid: accountSid,
      api_version: '2010-04-01',
      body: params.Body ?? '',
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: params.From ?? null,
      messaging_service_sid: params.MessagingServiceSid ?? null,
      num_media: String(mediaUrls.length),
      num_segments: '1',
      price: null,
      price_unit: 'USD',
      sid,
      // Twilio answers `accepted` when it still has to pick a sender from the service.
      status: params.From ? 'queued' : 'accepted',
      subresource_uris: { media: `${base}/Media.json`, feedback: `${base}/Feedback.json` },
      to: params.To,
      uri: `${base}.json`,
    };
    if (!lean) messages.set(sid, message);
    recorded.status = 201;
    recorded.sid = sid;
    if (silence) return;
    sendJson(res, 201, message);
  }

  // GET Messages.json: the Message resources created, newest first, filtered by `To` and
  // `From`, one page of `PageSize` (50 by default, at most 1000). DateSent filters are not
  // modelled: no message here is ever sent.
  function listMessages(req: IncomingMessage, res: ServerResponse) {
    const query = new URL(req.url ?? '/', apiBaseUrl).searchParams;
    const to = query.get('To');
    const from = query.get('From');
    const pageSize = Math.min(1000, Math.max(1, Number(query.get('PageSize') ?? 50) || 50));
    const found = [...messages.values()]
      .reverse()
      .filter((m) => (to === null || m.to === to) && (from === null || m.from === from));
    const page = found.slice(0, pageSize);
    const uri = `/2010-04-01/Accounts/${accountSid}/Messages.json?${query.toString()}`;
    sendJson(res, 200, {
      messages: page,
      start: 0,
      end: Math.max(0, page.length - 1),
      page: 0,
      page_size: pageSize,
      uri,
      first_page_uri: uri,
      next_page_uri: null,
      previous_page_uri: null,
    });
  }

  function handleCdn(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', cdnBaseUrl);
    const match = /^\/media\/([^/]+)\/(\d+)$/.exec(url.pathname);
    const entry = match?.[1] ? media.get(match[1]) : undefined;
    if (entry) entry.state.cdnRequests += 1;
    if (req.headers.authorization !== undefined) {
      if (entry) entry.state.cdnAuthorizationSeen = true;
      return sendS3Error(
        res,
        400,
        'InvalidArgument',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      );
    }
    if (!entry || !url.searchParams.get('X-Amz-Signature')) {
      return sendS3Error(res, 403, 'AccessDenied', 'Access Denied');
    }
    const hop = Number(match?.[2]);
    if (hop < (entry.options.cdnHops ?? 0)) {
      res.writeHead(302, { Location: cdnUrl(entry, hop + 1) }).end();
      return;
    }
    serveBytes(res, entry);
  }

  function cdnUrl(entry: MediaEntry, hop: number): string {
    const signature = randomBytes(32).toString('hex');
    return `${cdnBaseUrl}/media/${entry.state.sid}/${hop}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=14400&X-Amz-Signature=${signature}`;
  }

  function serveBytes(res: ServerResponse, entry: MediaEntry) {
    const { bytes, contentType, lieAboutLength, stallMs } = entry.options;
    const headers: Record<string, string> = {};
    if (contentType !== null) headers['Content-Type'] = contentType;
    if (!lieAboutLength) headers['Content-Length'] = String(bytes.length);
    res.writeHead(200, headers);
    res.once('finish', () => (entry.state.bodyComplete = true));
    const half = Math.floor(bytes.length / 2);
    void (async () => {
      await writeChunks(res, bytes.subarray(0, stallMs ? half : bytes.length));
      if (stallMs) {
        await delay(stallMs, res);
        await writeChunks(res, bytes.subarray(half));
      }
      if (!res.destroyed) res.end();
    })();
  }

  /** Writes in 64 KiB pieces, waiting for the client to read: a client that stops reading stops the server. */
  async function writeChunks(res: ServerResponse, bytes: Buffer) {
    for (let offset = 0; offset < bytes.length && !res.destroyed; offset += 64 * 1024) {
      if (!res.write(bytes.subarray(offset, offset + 64 * 1024))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
  }

  function delay(ms: number, res: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timers.add(timer);
      res.once('close', done);
      function done() {
        res.off('close', done);
        clearTimeout(timer);
        timers.delete(timer);
        resolve();
      }
    });
  }

  function mediaResource(entry: MediaEntry) {
    const date = rfc2822(entry.createdAt);
    return {
      account_sid: accountSid,
      content_type: entry.options.contentType,
      date_created: date,
      date_updated: date,
      parent_sid: entry.state.messageSid,
      sid: entry.state.sid,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${entry.state.messageSid}/Media/${entry.state.sid}.json`,
    };
  }

  return {
    accountSid,
    authToken,
    apiBaseUrl,
    cdnBaseUrl,
    requests,
    messageRequests,
    messages,
    mediaDeletes,
    addMedia(mediaOptions) {
      const sid = newSid('ME');
      const messageSid = mediaOptions.messageSid ?? newSid('MM');
      const state: FakeMedia = {
        url: `${apiBaseUrl}/2010-04-01/Accounts/${accountSid}/Messages/${messageSid}/Media/${sid}`,
        sid,
        messageSid,
        apiRequests: 0,
        cdnRequests: 0,
        cdnAuthorizationSeen: false,
        bodyComplete: false,
        deleted: false,
      };
      media.set(sid, {
        state,
        options: mediaOptions,
        failuresLeft: mediaOptions.failFirst ?? 0,
        createdAt: new Date(),
      });
      return state;
    },
    failNext(count, error) {
      for (let i = 0; i < count; i += 1) injected.push(error);
    },
    answerNothingNext(count, silence) {
      for (let i = 0; i < count; i += 1) unanswered.push(silence);
    },
    async close() {
      runningCdns.delete(apiBaseUrl);
      for (const timer of timers) clearTimeout(timer);
      await Promise.all([stop(api), stop(cdn)]);
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: number, message: string) {
  if (res.headersSent) return void res.destroy();
  sendJson(res, status, {
    code,
    message,
    more_info: `https://www.twilio.com/docs/errors/${code}`,
    status,
  });
}

const notFound = (res: ServerResponse, path: string) =>
  sendError(res, 404, 20404, `The requested resource ${path} was not found`);

function sendS3Error(res: ServerResponse, status: number, code: string, message: string) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': body.length });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function stop(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
