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
  /**
   * `request.protocol` and `request.host`: the socket's, or X-Forwarded-Proto/-Host when
   * the request came through a proxy TRUST_PROXY names (Fastify decides which).
   */
  protocol: string;
  host: string | undefined;
}

/**
 * The URL Twilio signed. With PUBLIC_URL: that base plus the path. Otherwise the URL the
 * request arrived at, which a trusted proxy (Railway, a load balancer) may report in
 * X-Forwarded-Proto/-Host. From anyone else those headers are ignored: a client that could
 * choose the URL could replay here a webhook Twilio signed for another app on the account.
 */
export function signedUrl(publicUrl: string | null, origin: RequestOrigin): string {
  if (publicUrl) return `${publicUrl}${origin.pathAndQuery}`;
  return `${origin.protocol}://${origin.host ?? 'localhost'}${origin.pathAndQuery}`;
}
