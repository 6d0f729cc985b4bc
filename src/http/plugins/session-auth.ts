import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Queryable } from '../../db/executor.js';
import { unauthorized } from '../../domain/errors.js';
import { SESSION_TTL_MS, sessionOf } from '../../services/sign-in.js';

/** The participant app's session cookie (scoped to /app). */
export const SESSION_COOKIE = 'taskwire_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in participant, set by requireSession on the app's API routes. */
    participant?: { userId: number; sessionId: number };
  }
}

/** The value of one cookie in the Cookie header, or null. */
export function readCookie(request: FastifyRequest, name: string): string | null {
  const header = request.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index !== -1 && part.slice(0, index).trim() === name) {
      const value = part.slice(index + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * Sets (or, with null, clears) the session cookie: HttpOnly (no script reads it),
 * SameSite=Lax (no other site's form or fetch carries it on a POST), Path=/app, 30 days,
 * and Secure when the request came over https (request.protocol honours TRUST_PROXY).
 */
export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  value: string | null,
): void {
  const attributes = [
    `${SESSION_COOKIE}=${value === null ? '' : encodeURIComponent(value)}`,
    'Path=/app',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${value === null ? 0 : Math.floor(SESSION_TTL_MS / 1000)}`,
    ...(request.protocol === 'https' ? ['Secure'] : []),
  ];
  void reply.header('set-cookie', attributes.join('; '));
  // A page carrying a session must never be kept by a shared cache.
  void reply.header('cache-control', 'no-store');
}

/**
 * Requires a live session on every route of the scope: the cookie's token is checked
 * against its stored hash in constant time (services/sign-in.ts). The API token counts
 * for nothing here, and a session counts for nothing on the admin routes.
 *
 * Requests that change something must be JSON (or have no body): a cross-site HTML form
 * cannot send `application/json` without a CORS preflight, which this app never grants.
 */
export function requireSession(
  scope: FastifyInstance,
  options: { db: Queryable; clock: () => Date },
): void {
  scope.addHook('onRequest', async (request) => {
    const cookie = readCookie(request, SESSION_COOKIE);
    const session = cookie ? await sessionOf(options.db, cookie, options.clock()) : null;
    if (!session) {
      throw unauthorized('Not signed in: send "link" to Taskwire on WhatsApp for a sign-in link.');
    }
    request.participant = { userId: session.userId, sessionId: session.sessionId };
  });
}

/** The signed-in participant of a request in a requireSession scope. */
export function participantOf(request: FastifyRequest): { userId: number; sessionId: number } {
  if (!request.participant) throw unauthorized('Not signed in.');
  return request.participant;
}
