import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { leaderboardWithStreaks, type UserDeps } from '../../services/users.js';
import { ErrorBody, LeaderboardSchema } from '../schemas.js';

export type LeaderboardRoutesOptions = UserDeps;

/** GET /leaderboard: users by points. */
export async function leaderboardRoutes(app: FastifyInstance, options: LeaderboardRoutesOptions) {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/leaderboard',
    {
      schema: {
        summary: 'Users ranked by points, with their habit streaks',
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
    async (request) => ({ items: await leaderboardWithStreaks(options, request.query.limit) }),
  );
}
