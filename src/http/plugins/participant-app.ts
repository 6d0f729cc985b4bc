import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** The participant app's static files (src/http/participant, or dist/http/participant). */
export const PARTICIPANT_ROOT = fileURLToPath(new URL('../participant/', import.meta.url));

/**
 * GET /app and its assets: plain HTML, CSS and JavaScript modules that call /app/api with
 * the session cookie. The files hold no data, so they need no session themselves.
 */
export async function serveParticipantApp(app: FastifyInstance): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.schema = { ...route.schema, hide: true };
    });
    await scope.register(fastifyStatic, {
      root: PARTICIPANT_ROOT,
      prefix: '/app/',
      wildcard: false,
      index: 'index.html',
      dotfiles: 'ignore',
      maxAge: 0,
    });
  });
}
