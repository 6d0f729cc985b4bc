// The SDK's webhook module alone: the same validateRequest as `twilio.validateRequest`,
// without loading the whole REST client on the hot path's module graph.
import { getExpectedTwilioSignature, validateRequest } from 'twilio/lib/webhooks/webhooks.js';
import type { TwilioParams } from '../domain/message.js';

export interface SignedRequest {
  /** The X-Twilio-Signature header, if any. */
  signature: string | undefined;
  /** The full URL Twilio requested, with query string. */
  url: string;
  /** The posted form parameters. */
  params: TwilioParams;
}

/** True when Twilio signed exactly this URL and these parameters with `authToken`. */
export function isSignedByTwilio(authToken: string, request: SignedRequest): boolean {
  if (!request.signature) return false;
  return validateRequest(authToken, request.signature, request.url, request.params);
}

/** The X-Twilio-Signature Twilio would send for this URL and form (`taskwire simulate`). */
export function signAsTwilio(
  authToken: string,
  url: string,
  params: Record<string, string>,
): string {
  return getExpectedTwilioSignature(authToken, url, params);
}

export interface RequestOrigin {
  /** Path and query as received, e.g. `/webhook/twilio?x=1`. */
  pathAndQuery: string;
  /** `request.protocol` as the server saw it. */
  protocol: string;
  host: string | undefined;
  forwardedProto: string | string[] | undefined;
  forwardedHost: string | string[] | undefined;
}

const firstValue = (header: string | string[] | undefined): string | undefined => {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0]?.trim() || undefined;
};

/**
 * The URL Twilio signed. With PUBLIC_URL: that base plus the path. Otherwise the URL the
 * request arrived at, as the proxy in front of us (Railway, a load balancer) reports it in
 * X-Forwarded-Proto / X-Forwarded-Host. Trusting those headers is safe here: they only
 * choose which URL the HMAC is checked against, and forging one gains nothing without the
 * auth token.
 */
export function signedUrl(publicUrl: string | null, origin: RequestOrigin): string {
  if (publicUrl) return `${publicUrl}${origin.pathAndQuery}`;
  const proto = firstValue(origin.forwardedProto) ?? origin.protocol;
  const host = firstValue(origin.forwardedHost) ?? origin.host ?? 'localhost';
  return `${proto}://${host}${origin.pathAndQuery}`;
}
