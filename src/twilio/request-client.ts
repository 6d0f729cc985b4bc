import http from 'node:http';
import https from 'node:https';
import type RequestClient from 'twilio/lib/base/RequestClient.js';

export interface KeptAliveRequestClientOptions {
  /** Connections kept open to Twilio's API: as many as messages are sent at once. */
  maxSockets: number;
  /**
   * Per-request time limit, when the SDK gives none: both the longest silence of the socket
   * and the longest the whole request may take, from sending it to the last byte of the
   * answer (a server trickling a byte now and then never falls silent for long).
   */
  timeoutMs: number;
}

/**
 * A request to Twilio's API that did not finish within its time limit. Worth retrying: the
 * sender reads an error without an HTTP status as a network error, not a refusal.
 */
export class TwilioRequestTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TwilioRequestTimeoutError';
  }
}

/**
 * Set on every error of a request that got no answer: whether the whole request had been
 * handed to the operating system when it failed. Then Twilio may have acted on it (created
 * the message) though we never heard back; a request that failed before that (connection
 * refused, no such host) certainly did nothing.
 */
export interface UnansweredRequest {
  requestSent: boolean;
}

type Request = RequestClient['request'];
type RequestOptions = Parameters<Request>[0];
type Answer = Awaited<ReturnType<Request>>;

/**
 * The transport the official `twilio` SDK sends through (its `httpClient` option, the
 * documented way to replace it): Node's own HTTP client over kept-alive connections instead
 * of the SDK's axios stack, which cost ~0.65 CPU ms per reply in `npm run bench:loop` — a
 * tenth of the whole loop. The SDK still builds every request (URL, form parameters, auth,
 * headers) and reads every answer (JSON, `RestException` with Twilio's status and code); this
 * only carries the bytes. `Base` is the SDK's RequestClient class, passed in because the SDK
 * is loaded by the first send, not at start-up.
 */
export function keptAliveRequestClient(
  Base: typeof RequestClient,
  options: KeptAliveRequestClientOptions,
): RequestClient {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: options.maxSockets }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: options.maxSockets }),
  };

  // The SDK reads `body` as JSON text when it is a string (base/Version.js), as axios gives it.
  const request = ((opts: RequestOptions): Promise<Answer> => {
    const url = new URL(opts.uri);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.reject(new Error(`Twilio's API URL must be http(s): ${url.protocol}`));
    }
    appendForm(url.searchParams, opts.params);
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string>) };
    if (opts.username && opts.password) {
      const basic = Buffer.from(`${opts.username}:${opts.password}`).toString('base64');
      headers.Authorization = `Basic ${basic}`;
    }
    let body: string | undefined;
    if (opts.data !== undefined && opts.data !== null) {
      const form = new URLSearchParams();
      appendForm(form, opts.data);
      body = form.toString();
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const timeoutMs = opts.timeout ?? options.timeoutMs;
    return new Promise<Answer>((resolveAnswer, rejectAnswer) => {
      let deadline: NodeJS.Timeout | undefined = undefined;
      let requestSent = false;
      const resolve = (answer: Answer) => {
        clearTimeout(deadline);
        resolveAnswer(answer);
      };
      const reject = (error: unknown) => {
        clearTimeout(deadline);
        if (error instanceof Error)
          Object.assign(error, { requestSent } satisfies UnansweredRequest);
        rejectAnswer(error);
      };
      const outgoing = (url.protocol === 'https:' ? https : http).request(
        url,
        { method: opts.method.toUpperCase(), headers, agent: agents[url.protocol as 'http:'] },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () =>
            resolve({
              statusCode: response.statusCode ?? 0,
              body: text,
              headers: response.headers,
            } as Answer),
          );
          response.on('error', reject);
        },
      );
      const fail = (message: string) => {
        const error = new TwilioRequestTimeoutError(message);
        reject(error);
        outgoing.destroy(error);
      };
      outgoing.setTimeout(timeoutMs, () =>
        fail(`Twilio's API sent nothing for ${timeoutMs} ms; the request was abandoned`),
      );
      deadline = setTimeout(
        () =>
          fail(
            `Twilio's API did not finish answering within ${timeoutMs} ms; the request was abandoned`,
          ),
        timeoutMs,
      );
      outgoing.on('error', reject);
      // 'finish': the last byte of the request went to the socket.
      outgoing.on('finish', () => (requestSent = true));
      outgoing.end(body);
    });
  }) as Request;

  // A subclass, so the SDK gets the type it asks for; the base constructor only builds an
  // axios instance that is never used.
  class KeptAliveRequestClient extends Base {
    override request = request;
  }
  return new KeptAliveRequestClient();
}

/** The SDK's form encoding: arrays as repeated keys (`MediaUrl=a&MediaUrl=b`), nulls left out. */
function appendForm(target: URLSearchParams, values: unknown): void {
  if (values === undefined || values === null || typeof values !== 'object') return;
  for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item === undefined || item === null) continue;
      target.append(key, typeof item === 'string' ? item : String(item));
    }
  }
}
