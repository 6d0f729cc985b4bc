import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { UseCaseDeps } from '../../services/deps.js';
import { listFeed } from '../../services/feed.js';
import { ErrorBody, FeedItemSchema, IdSchema, pageOf, pagingQuery } from '../schemas.js';
import { type ObjectUrl, answerImageUrl } from '../storage-urls.js';

export interface FeedRoutesOptions extends Pick<UseCaseDeps, 'db'> {
  /** The URL of an object key: `image_url` is built from the post's key when answering. */
  objectUrl: ObjectUrl;
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
          group_id: Type.Optional({ ...IdSchema, description: "Only this group's posts." }),
          ...pagingQuery(50),
        }),
        response: { 200: pageOf(FeedItemSchema), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { limit, offset, user_id, group_id } = request.query;
      const page = await listFeed(options, { limit, offset, userId: user_id, groupId: group_id });
      const onFailure = (key: string, error: unknown) =>
        request.log.warn({ key, err: error }, 'could not make the URL of a feed photo');
      const items = await Promise.all(
        page.items.map(async ({ image_key, ...item }) => ({
          ...item,
          ...(await answerImageUrl(
            { image_url: item.image_url, image_key },
            options.objectUrl,
            onFailure,
          )),
        })),
      );
      return { items, total: page.total, limit, offset };
    },
  );
}
