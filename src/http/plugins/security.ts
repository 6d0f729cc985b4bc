import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { rateLimited } from '../../domain/errors.js';

export interface SecurityOptions {
  /** API_RATE_LIMIT: admin requests per minute from one client address; 0 turns it off. */
  apiRateLimit: number;
  /** Failed authentications from one address within `authFailureWindowMs` before it is refused (default 20). */
  authFailureLimit?: number;
  /** Default 10 minutes. */
  authFailureWindowMs?: number;
  /** Development: feed images may come from plain-http hosts (the local storage driver). */
  allowHttpImages?: boolean;
}

/** Adds the admin protections (request rate, repeated authentication failures) to a scope. */
export interface AdminGuard {
  protect(scope: FastifyInstance): void;
}

/**
 * Security headers on every answer, and the rate limits of the admin API.
 *
 * The Content-Security-Policy keeps the dashboard (`/`) and the API documentation (`/docs`)
 * working: scripts and styles only from our origin, plus inline styles, which Swagger UI
 * sets on its elements; no inline scripts, no plugins, no framing.
 *
 * Rate limits apply to admin scopes only (see AdminGuard), never to the Twilio webhooks:
 * Twilio delivers bursts from few addresses, and a refused webhook is a message Twilio
 * retries late or drops. Client addresses are `request.ip`: the socket's address, or
 * X-Forwarded-For as far as TRUST_PROXY trusts it. Trusting anyone's would let a client
 * rotate the header past both limits, or lock a victim out by sending bad tokens "from" it.
 */
export async function registerSecurity(
  app: FastifyInstance,
  options: SecurityOptions,
): Promise<AdminGuard> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': [
          "'self'",
          'data:',
          'blob:',
          'https:',
          ...(options.allowHttpImages ? ['http:'] : []),
        ],
        'connect-src': ["'self'"],
        'font-src': ["'self'", 'data:'],
        'object-src': ["'none'"],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'self'"],
        'form-action': ["'self'"],
        // Behind Railway's TLS the page is https already; on a laptop's plain-http port,
        // upgrading would break every same-origin script and stylesheet.
        'upgrade-insecure-requests': null,
      },
    },
  });

  await app.register(rateLimit, {
    global: false,
    // Spelled out: the limits must key on the address Fastify derived under TRUST_PROXY.
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, context) =>
      rateLimited(
        `Too many requests: at most ${context.max} per minute from one address. Retry in ${context.after}.`,
      ),
  });

  const requestLimit =
    options.apiRateLimit > 0
      ? app.rateLimit({ max: options.apiRateLimit, timeWindow: 60_000 })
      : null;
  const failureLimit = options.authFailureLimit ?? 20;
  const failureWindowMs = options.authFailureWindowMs ?? 10 * 60_000;
  // Counts 401 answers per address; an address past the limit is refused before its token
  // is even looked at, so guessing tokens costs one window per `failureLimit` guesses.
  const authFailures = app.createRateLimit({ max: failureLimit, timeWindow: failureWindowMs });

  const refuseRepeatedFailures = async (request: FastifyRequest, reply: FastifyReply) => {
    const state = await authFailures(request, { increment: false });
    if (!state.isAllowed && state.isExceeded) {
      void reply.header('retry-after', state.ttlInSeconds);
      throw rateLimited(
        `Too many failed authentications from this address; retry in ${state.ttlInSeconds} s.`,
      );
    }
  };
  const countFailures = async (request: FastifyRequest, reply: FastifyReply) => {
    if (reply.statusCode === 401) await authFailures(request);
  };

  return {
    protect(scope) {
      scope.addHook('onRequest', refuseRepeatedFailures);
      if (requestLimit) {
        scope.addHook('onRequest', async (request, reply) =>
          requestLimit.call(scope, request, reply),
        );
      }
      scope.addHook('onResponse', countFailures);
    },
  };
}
