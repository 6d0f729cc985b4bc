import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/executor.js';
import { listFeed } from '../../db/feed.js';
import { ErrorBody, FeedItemSchema, IdSchema, pageOf, pagingQuery } from '../schemas.js';
import { type SignUrl, signedImageUrl } from '../storage-urls.js';

export interface FeedRoutesOptions {
  db: Queryable;
  /** Private bucket: answer a signed, expiring `image_url`. */
  signUrl?: SignUrl;
}

/** GET /feed: the proofs of completed tasks, newest first. */
export async function feedRoutes(app: FastifyInstance, options: FeedRoutesOptions) {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/feed',
    {
      schema: {
        summary: 'List feed posts, newest first',
        tags: ['feed'],
        querystring: Type.Object({
          user_id: Type.Optional(IdSchema),
          ...pagingQuery(50),
        }),
        response: { 200: pageOf(FeedItemSchema), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { limit, offset, user_id } = request.query;
      const page = await listFeed(options.db, { limit, offset, userId: user_id ?? null });
      const items = await Promise.all(
        page.items.map(async ({ proof_media, ...item }) => ({
          ...item,
          image_url: await signedImageUrl(item.image_url, proof_media, options.signUrl),
        })),
      );
      return { items, total: page.total, limit, offset };
    },
  );
}
