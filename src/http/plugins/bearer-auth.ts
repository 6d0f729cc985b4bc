import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { unauthorized } from '../../domain/errors.js';
import { ErrorBody } from '../schemas.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Requires `Authorization: Bearer <API_TOKEN>` on every route of the scope it is added
 * to. Both sides are hashed first so the comparison is constant-time whatever the lengths.
 * The same scope's routes are documented as needing the token (OpenAPI `bearerAuth`), so
 * the documentation cannot disagree with what is enforced.
 */
export function requireBearerToken(scope: FastifyInstance, apiToken: string): void {
  const expected = digest(apiToken);
  scope.addHook('onRoute', (route) => {
    const schema = (route.schema ??= {});
    schema.security = [{ bearerAuth: [] }];
    schema.response = { 401: ErrorBody, ...(schema.response as object | undefined) };
  });
  scope.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw unauthorized('Missing API token: send "Authorization: Bearer <API_TOKEN>".');
    }
    if (!timingSafeEqual(digest(match[1] as string), expected)) {
      throw unauthorized('Invalid API token.');
    }
  });
}
