import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/executor.js';
import { listFeed } from '../../db/feed.js';
import { ErrorBody, FeedItemSchema, IdSchema, pageOf, pagingQuery } from '../schemas.js';

export interface FeedRoutesOptions {
  db: Queryable;
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
      return { ...page, limit, offset };
    },
  );
}
