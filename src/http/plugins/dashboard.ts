import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/**
 * The dashboard's static files: src/http/dashboard when run with tsx, dist/http/dashboard
 * (copied by scripts/copy-assets.mjs) when compiled, both one folder up from here.
 */
export const DASHBOARD_ROOT = fileURLToPath(new URL('../dashboard/', import.meta.url));

/**
 * GET / and its assets: plain HTML, CSS and JavaScript modules that call the JSON API with
 * the token the user types in. The files hold no data, so they need no token themselves.
 */
export async function serveDashboard(app: FastifyInstance): Promise<void> {
  // In a scope of its own, so `reply.sendFile` does not leak into other plugins.
  await app.register(async (scope) => {
    await scope.register(fastifyStatic, {
      root: DASHBOARD_ROOT,
      prefix: '/',
      // One route per file, found at start-up: unknown paths keep the API's 404 body.
      wildcard: false,
      index: 'index.html',
      dotfiles: 'ignore',
      // Revalidated on every load (ETag), so a new release is picked up at once.
      maxAge: 0,
    });
  });
}
