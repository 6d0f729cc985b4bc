import { setTimeout as sleep } from 'node:timers/promises';
import { fetch as undiciFetch } from 'undici';
import {
  MediaDownloadError,
  MediaHttpError,
  MediaRefusedError,
  MediaTimeoutError,
} from './media-errors.js';
import {
  assertRedirectAllowed,
  publicOnlyDispatcher,
  type RedirectRule,
  redirectRuleFor,
  refusalBehind,
  type ResolveHost,
} from './media-redirects.js';

export interface TwilioCredentials {
  /** TWILIO_ACCOUNT_SID: the user name of HTTP basic auth. */
  accountSid: string;
  /** TWILIO_AUTH_TOKEN: the password of HTTP basic auth. */
  authToken: string;
  /**
   * TWILIO_API_BASE_URL (default https://api.twilio.com). Its origin is the only one that
   * ever receives the credentials, and the only one media URLs may point at.
   */
  apiBaseUrl: string;
}

export interface TwilioRequestOptions extends TwilioCredentials {
  /** MEDIA_TIMEOUT_MS: the budget for one item, retries, redirects and body included. */
  timeoutMs: number;
  /** Pauses before each retry of a transient answer; its length is the number of retries. Default [250, 1000, 2500]. */
  retryDelaysMs?: readonly number[];
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Aborts the request, e.g. at shutdown; the abort reason is rethrown as is. */
  signal?: AbortSignal;
  /**
   * MEDIA_REDIRECT_ALLOWLIST: where redirects may lead besides the apiBaseUrl origin, when
   * apiBaseUrl is not Twilio's own (see media-redirects.ts).
   */
  redirectAllowlist?: readonly string[];
  /** Overrides the rule apiBaseUrl implies (tests of the public-address rule). */
  redirectRule?: RedirectRule['kind'];
  /** Resolves host names for the public-address rule (tests stub it). Default: dns.lookup. */
  resolveHost?: ResolveHost;
}

export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [250, 1000, 2500];
const MAX_REDIRECTS = 5;

/** A Twilio media resource URL that passed the origin and shape checks. */
export interface TwilioMediaUrl {
  url: URL;
  accountSid: string;
  messageSid: string;
  mediaSid: string;
}

const mediaPath =
  /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Messages\/([A-Z]{2}[0-9a-fA-F]{32})\/Media\/(ME[0-9a-fA-F]{32})(\.json)?$/;

/**
 * Accepts only `<TWILIO_API_BASE_URL>/2010-04-01/Accounts/AC…/Messages/…/Media/ME…`.
 * The origin check keeps the credentials from ever leaving Twilio; the path check keeps a
 * forged webhook from pointing our credentials at another Twilio resource (the message
 * list, say) and having its JSON copied into the bucket.
 */
export function parseTwilioMediaUrl(
  value: string,
  apiBaseUrl: string,
  options: { allowJson?: boolean } = {},
): TwilioMediaUrl {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new MediaRefusedError('The media URL is not an absolute URL.');
  }
  const base = new URL(apiBaseUrl);
  if (url.username || url.password) {
    throw new MediaRefusedError('The media URL embeds a user name or password.');
  }
  if (url.origin !== base.origin) {
    throw new MediaRefusedError(
      `Media on ${url.origin} is not Twilio's: Twilio credentials are only sent to ${base.origin} ` +
        '(TWILIO_API_BASE_URL), and media elsewhere is not fetched.',
    );
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  const match = url.pathname.startsWith(`${prefix}/`)
    ? mediaPath.exec(url.pathname.slice(prefix.length))
    : null;
  if (!match || (match[4] && !options.allowJson)) {
    throw new MediaRefusedError(
      'The URL is not a Twilio media resource (/2010-04-01/Accounts/AC…/Messages/…/Media/ME…).',
    );
  }
  url.hash = '';
  return {
    url,
    accountSid: match[1] as string,
    messageSid: match[2] as string,
    mediaSid: match[3] as string,
  };
}

/**
 * One budget for everything done for one item. Aborting with a MediaTimeoutError as the
 * reason makes fetch and the body stream fail with it, wherever they are.
 */
export class Deadline {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly endsAt: number;
  private readonly external: AbortSignal | undefined;
  private readonly onExternalAbort = () => this.controller.abort(this.external?.reason);
  timedOut = false;

  constructor(
    readonly timeoutMs: number,
    external?: AbortSignal,
  ) {
    this.signal = this.controller.signal;
    this.endsAt = Date.now() + timeoutMs;
    this.external = external;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new MediaTimeoutError(timeoutMs));
    }, timeoutMs);
    if (external?.aborted) this.onExternalAbort();
    else external?.addEventListener('abort', this.onExternalAbort, { once: true });
  }

  remainingMs(): number {
    return this.endsAt - Date.now();
  }

  /** The error that explains an abort, or null when nothing was aborted. */
  abortReason(): unknown {
    if (this.timedOut) return new MediaTimeoutError(this.timeoutMs);
    return this.signal.aborted ? this.signal.reason : null;
  }

  clear(): void {
    clearTimeout(this.timer);
    this.external?.removeEventListener('abort', this.onExternalAbort);
  }
}

const isRedirect = (status: number) => [301, 302, 303, 307, 308].includes(status);

/** 404 included: Twilio can answer the webhook's MediaUrl with 404 for a moment before the media is ready. */
const isTransient = (status: number, retryNotFound: boolean) =>
  status === 408 || status === 429 || status >= 500 || (retryNotFound && status === 404);

export interface TwilioRequest {
  method: 'GET' | 'DELETE';
  url: URL;
  /** Where the media is named in error messages, e.g. `media ME…`. */
  label: string;
  followRedirects: boolean;
  retryNotFound: boolean;
}

/**
 * Sends `request`, retrying transient answers (5xx, 429, 408, network errors and, when
 * asked, 404) after the configured pauses while the deadline allows. Returns the last
 * response, which may still be an error status: the caller decides what it means.
 */
export async function requestTwilio(
  request: TwilioRequest,
  options: TwilioRequestOptions,
  deadline: Deadline,
): Promise<Response> {
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  for (let attempt = 0; ; attempt += 1) {
    try {
      const response = await send(request, options, deadline);
      if (!isTransient(response.status, request.retryNotFound) || attempt >= delays.length) {
        return response;
      }
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      const delay = Math.max(delays[attempt] ?? 0, retryAfterMs);
      // Sleeping into the deadline would only turn a clear HTTP error into a timeout.
      if (delay >= deadline.remainingMs()) return response;
      await response.body?.cancel().catch(() => {});
      await pause(delay, deadline);
    } catch (error) {
      const reason = deadline.abortReason();
      if (reason) throw reason;
      if (error instanceof MediaDownloadError) throw error;
      const delay = delays[attempt];
      if (delay === undefined || delay >= deadline.remainingMs()) {
        throw new MediaDownloadError(
          'network',
          `Could not reach ${request.url.origin} for ${request.label}: ${networkCause(error)}. Transient: a later attempt may succeed.`,
          { permanent: false, cause: error },
        );
      }
      await pause(delay, deadline);
    }
  }
}

async function pause(ms: number, deadline: Deadline): Promise<void> {
  try {
    await sleep(ms, undefined, { signal: deadline.signal });
  } catch {
    throw deadline.abortReason() ?? new MediaTimeoutError(deadline.timeoutMs);
  }
}

async function send(
  request: TwilioRequest,
  options: TwilioRequestOptions,
  deadline: Deadline,
): Promise<Response> {
  const fetchImpl = options.fetch ?? fetch;
  const twilioOrigin = new URL(options.apiBaseUrl).origin;
  const authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  const rule = redirectRuleFor(options.apiBaseUrl, options.redirectAllowlist, options.redirectRule);
  let url = request.url;
  for (let hop = 0; ; hop += 1) {
    const headers: Record<string, string> = { accept: '*/*' };
    // Decided per hop: a redirect to the CDN (S3) must not carry Twilio's credentials,
    // and S3 rejects a presigned URL that also has an Authorization header. A hop back to
    // Twilio's origin carries them only to a media resource: a redirect could otherwise
    // have the account's message list fetched with them and stored as a photo. Any other
    // path there (a stand-in's signed download link, say) is asked like a CDN, without.
    if (
      url.origin === twilioOrigin &&
      (hop === 0 || isTwilioMediaResource(url, options.apiBaseUrl))
    )
      headers.authorization = authorization;
    const init = {
      method: request.method,
      headers,
      redirect: 'manual',
      signal: deadline.signal,
    } as const;
    // A redirect's target under the public rule is fetched through a dispatcher that
    // connects to public addresses only, checked on the address it connects to.
    const guarded = hop > 0 && rule.kind === 'public';
    let response: Response;
    try {
      response = guarded
        ? ((await undiciFetch(url, {
            ...init,
            dispatcher: publicOnlyDispatcher(options.resolveHost),
          })) as unknown as Response)
        : await fetchImpl(url, init);
    } catch (error) {
      throw refusalBehind(error) ?? error;
    }
    if (!request.followRedirects || !isRedirect(response.status)) return response;
    await response.body?.cancel().catch(() => {});
    if (hop >= MAX_REDIRECTS) {
      throw new MediaDownloadError(
        'redirect',
        `Gave up on ${request.label} after ${MAX_REDIRECTS} redirects. Transient: a later attempt may succeed.`,
        { permanent: false },
      );
    }
    url = nextLocation(url, response.headers.get('location'), request.label);
    assertRedirectAllowed(url, rule, request.label);
  }
}

/** Whether `url` is one of Twilio's media resources (see parseTwilioMediaUrl). */
function isTwilioMediaResource(url: URL, apiBaseUrl: string): boolean {
  try {
    parseTwilioMediaUrl(url.href, apiBaseUrl, { allowJson: true });
    return true;
  } catch {
    return false;
  }
}

function nextLocation(from: URL, location: string | null, label: string): URL {
  let next: URL;
  try {
    if (!location) throw new Error('no Location');
    next = new URL(location, from);
  } catch {
    throw new MediaDownloadError(
      'redirect',
      `${from.origin} redirected ${label} without a valid Location. Permanent.`,
      { permanent: true },
    );
  }
  const downgrade = from.protocol === 'https:' && next.protocol !== 'https:';
  if ((next.protocol !== 'https:' && next.protocol !== 'http:') || downgrade) {
    throw new MediaRefusedError(
      `${from.origin} redirected ${label} to a ${next.protocol} URL; only https is followed from https.`,
    );
  }
  if (next.username || next.password) {
    throw new MediaRefusedError(`A redirect for ${label} embeds a user name or password.`);
  }
  return next;
}

/** Retry-After in seconds (Twilio sends seconds on 429); 0 when absent or a date. */
function parseRetryAfter(value: string | null): number {
  const seconds = Number(value);
  return value && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

const networkCause = (error: unknown): string => {
  const cause = error instanceof Error ? (error.cause ?? error) : error;
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'connection failed';
};

/**
 * Turns an error answer into a MediaHttpError. Twilio's JSON error body is read only for
 * its numeric `code`: its `message` could quote request details we do not want in logs.
 */
export async function httpError(
  response: Response,
  label: string,
  retryNotFound: boolean,
): Promise<MediaHttpError> {
  const twilioCode = await readTwilioCode(response);
  const status = response.status;
  const code = twilioCode === null ? '' : ` (Twilio error ${twilioCode})`;
  if (isTransient(status, retryNotFound)) {
    return new MediaHttpError(
      status,
      twilioCode,
      `${label} answered HTTP ${status}${code} after retries. Transient: a later attempt may succeed.`,
      false,
    );
  }
  const hint =
    status === 401 || status === 403
      ? ' Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.'
      : status === 404
        ? ' The media no longer exists at Twilio.'
        : '';
  return new MediaHttpError(
    status,
    twilioCode,
    `${label} answered HTTP ${status}${code}. Permanent: retrying will not help.${hint}`,
    true,
  );
}

async function readTwilioCode(response: Response): Promise<number | null> {
  try {
    if (!/json/i.test(response.headers.get('content-type') ?? '')) return null;
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > 64 * 1024) return null;
    const body = (await response.json()) as { code?: unknown };
    return typeof body.code === 'number' ? body.code : null;
  } catch {
    return null;
  } finally {
    await response.body?.cancel().catch(() => {});
  }
}
