import type { FastifyInstance } from 'fastify';
import { validationFailed } from '../../domain/errors.js';

/** True when any string (or object key) in a parsed JSON value contains a NUL. */
function containsNul(value: unknown): boolean {
  // A stack, not recursion: a deeply nested body must not overflow the call stack.
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'string') {
      if (next.includes('\u0000')) return true;
    } else if (Array.isArray(next)) {
      for (const inner of next as unknown[]) pending.push(inner);
    } else if (typeof next === 'object' && next !== null) {
      for (const [key, inner] of Object.entries(next)) {
        if (key.includes('\u0000')) return true;
        pending.push(inner);
      }
    }
  }
  return false;
}

/**
 * Refuses a NUL character in the path, the query or a JSON body of the routes of `scope`
 * with a 400 before any handler runs: Postgres stores no NUL in text (SQLSTATE 22021), and
 * no person types one. The Twilio webhooks are not guarded here: their form is checked
 * against its signature first and then cleaned (src/twilio/inbound-params.ts).
 */
export function rejectNulInput(scope: FastifyInstance): void {
  scope.addHook('onRequest', async (request) => {
    // A NUL can only arrive percent-encoded: Node refuses a raw one in the request line.
    if (request.url.includes('%00')) {
      throw validationFailed('The URL contains a NUL character (%00); remove it.');
    }
  });
  scope.addHook('preValidation', async (request) => {
    if (request.body !== undefined && containsNul(request.body)) {
      throw validationFailed('The request body contains a NUL character (\\u0000); remove it.');
    }
  });
}
