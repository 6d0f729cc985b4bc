import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/executor.js';
import { leaderboard } from '../../db/users.js';
import { ErrorBody, LeaderboardSchema } from '../schemas.js';

export interface LeaderboardRoutesOptions {
  db: Queryable;
}

/** GET /leaderboard: users by points. */
export async function leaderboardRoutes(app: FastifyInstance, options: LeaderboardRoutesOptions) {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/leaderboard',
    {
      schema: {
        summary: 'Users ranked by points',
        tags: ['leaderboard'],
        querystring: Type.Object({
          limit: Type.Integer({
            minimum: 1,
            maximum: 100,
            default: 50,
            description: 'How many users, 1 to 100 (default 50).',
          }),
        }),
        response: { 200: LeaderboardSchema, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => ({ items: await leaderboard(options.db, request.query.limit) }),
  );
}
