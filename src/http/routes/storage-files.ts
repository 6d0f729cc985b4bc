import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { forbidden, notFound } from '../../domain/errors.js';
import type { LocalBlobStore } from '../../storage/local/local-blob-store.js';
import { documentationOnly, ErrorBody } from '../schemas.js';

export interface StorageFilesRoutesOptions {
  store: LocalBlobStore;
}

interface StorageFileRequest {
  Params: { bucket: string; '*': string };
  Querystring: { expires?: unknown; signature?: unknown };
}

// Keys never change content (they hold a MessageSid), so a public object may be cached
// for a year by browsers and proxies alike.
const PUBLIC_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/**
 * GET /storage/:bucket/* — the local driver's objects, for browsers that load the URLs
 * `LocalBlobStore.url()` hands out. Open (no API token): a public bucket's URLs are meant
 * to be shared, and a private bucket's URLs carry their own expiring signature.
 */
export async function storageFilesRoutes(app: FastifyInstance, options: StorageFilesRoutesOptions) {
  const { store } = options;

  app.get<StorageFileRequest>(
    '/storage/:bucket/*',
    {
      // Documentation only: the key grammar and the signature check below judge the
      // parameters, and every refusal must stay the same 404 (or 403 for a bad signature).
      validatorCompiler: documentationOnly,
      schema: {
        summary: 'A stored photo (local storage driver only)',
        description:
          "The URLs in `storage_urls` and the feed's `image_url`. Open: a public bucket's " +
          'URLs are meant to be shared; with `STORAGE_PUBLIC=false` each URL carries its own ' +
          'expiring signature.',
        tags: ['storage'],
        params: Type.Object({
          bucket: Type.String({ description: 'SUPABASE_BUCKET (default `notes`).' }),
          '*': Type.String({ description: 'The object key, e.g. `messages/MM.../0.jpg`.' }),
        }),
        querystring: Type.Object({
          expires: Type.Optional(
            Type.String({ description: 'Private bucket: expiry, in Unix seconds.' }),
          ),
          signature: Type.Optional(
            Type.String({ description: "Private bucket: the URL's signature." }),
          ),
        }),
        response: {
          200: {
            description: 'The object, with its Content-Type.',
            content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
          },
          403: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { bucket } = request.params;
      // Fastify has already percent-decoded the path, so "%2e%2e" arrives here as "..", and
      // the key grammar refuses it before any file name is built. Every refusal is the same
      // 404, so probing for what exists (or where the root is) learns nothing.
      const key = request.params['*'];
      const missing = () => notFound(`No object "${key}" in bucket "${bucket}".`);
      if (bucket !== store.bucket || !store.isValidKey(key)) throw missing();

      let cacheControl = PUBLIC_CACHE_CONTROL;
      if (!store.public) {
        const check = store.verifySignedUrl(key, request.query);
        if (check === 'expired') {
          throw forbidden('This link has expired; ask for a new one.');
        }
        if (check === 'invalid') {
          throw forbidden(
            'This object is private: the link needs valid "expires" and "signature" parameters.',
          );
        }
        // A signed URL may be kept by the browser until it expires, never by shared caches.
        const secondsLeft = Number(request.query.expires) - Math.floor(Date.now() / 1000);
        cacheControl = `private, max-age=${Math.max(0, secondsLeft)}`;
      }

      const object = await store.get(key);
      if (!object) throw missing();

      return (
        reply
          .header('Content-Type', object.contentType)
          .header('Content-Length', object.size)
          .header('Cache-Control', cacheControl)
          // The content type came from a message sender: never let a browser guess a more
          // dangerous one, and never run a stored document as an active page of our origin.
          .header('X-Content-Type-Options', 'nosniff')
          .header('Content-Security-Policy', 'sandbox')
          .send(object.body)
      );
    },
  );
}
