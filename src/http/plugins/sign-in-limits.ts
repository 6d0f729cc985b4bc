import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { rateLimited } from '../../domain/errors.js';

/** One limit: at most `max` requests per `windowMs`. */
export interface Limit {
  max: number;
  windowMs: number;
}

export interface SignInLimits {
  /** Sign-in requests (the link's page and its Continue) from one client address. */
  perAddress: Limit;
  /** Requests presenting one link (its selector): previews, Continue, guesses at its verifier. */
  perToken: Limit;
}

/**
 * Defaults. A person opening a link makes two requests (the page, Continue), and WhatsApp's
 * preview fetches come from its own addresses; 60 per 10 minutes lets a household or an
 * office behind one address sign in many times, while a script gets 60 tries per window
 * (a token has 256 secret bits, so this caps load and noise rather than guessing odds). A
 * link lives 15 minutes, so its count lasts that long.
 */
export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  perAddress: { max: 60, windowMs: 10 * 60_000 },
  perToken: { max: 10, windowMs: 15 * 60_000 },
};

/** A limiter from @fastify/rate-limit (registered by plugins/security.ts) keyed by `key`. */
export function limiter(
  app: FastifyInstance,
  limit: Limit,
  key: (request: FastifyRequest) => string,
): (request: FastifyRequest, reply: FastifyReply, what: string) => Promise<void> {
  const check = app.createRateLimit({
    max: limit.max,
    timeWindow: limit.windowMs,
    keyGenerator: key,
  });
  return async (request, reply, what) => {
    const state = await check(request);
    if (!state.isAllowed && state.isExceeded) {
      void reply.header('retry-after', state.ttlInSeconds);
      throw rateLimited(`${what}; retry in ${state.ttlInSeconds} s.`);
    }
  };
}

/** The selector of a well-formed token (`<selector>.<verifier>`), else null. */
const selectorOf = (request: FastifyRequest): string | null => {
  const token = (request.query as { token?: unknown } | undefined)?.token;
  if (typeof token !== 'string') return null;
  const dot = token.indexOf('.');
  return dot > 0 ? token.slice(0, Math.min(dot, 64)) : null;
};

/**
 * An onRequest hook for the magic-link routes: refuses with 429 (the error body, with
 * Retry-After) past either limit, before the token is looked up. Counted per process, in
 * memory, like the admin limits; the address is `request.ip` (TRUST_PROXY decides it).
 */
export function signInLimitHook(
  app: FastifyInstance,
  limits: SignInLimits,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const byAddress = limiter(app, limits.perAddress, (request) => request.ip);
  const byToken = limiter(app, limits.perToken, (request) => selectorOf(request) ?? '');
  return async (request, reply) => {
    await byAddress(request, reply, 'Too many sign-in attempts from this address');
    // A malformed token is refused without a lookup; only real selectors are counted.
    if (selectorOf(request) !== null) {
      await byToken(request, reply, 'Too many attempts with this sign-in link');
    }
  };
}
