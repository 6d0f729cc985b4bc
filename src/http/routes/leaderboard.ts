import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { leaderboardWithStreaks, type UserDeps } from '../../services/users.js';
import { type PeriodLeaderboard, periodLeaderboard } from '../../services/leaderboards.js';
import { ErrorBody, LeaderboardSchema } from '../schemas.js';

export type LeaderboardRoutesOptions = UserDeps & {
  /** The current time: which week or month is "this" one (tests inject one). */
  clock?: () => Date;
  /** TZ: the zone of the deployment-wide board and of groups without their own. */
  defaultTimezone?: string;
};

const Period = Type.Union([Type.Literal('week'), Type.Literal('month'), Type.Literal('all')], {
  description:
    "week (Monday to Sunday), month or all, in the group's time zone (the deployment's TZ without a group); default `week`. Points earned in the period: from tasks completed by a published proof.",
});

const Limit = Type.Integer({
  minimum: 1,
  maximum: 100,
  default: 50,
  description: 'How many users, 1 to 100 (default 50).',
});

const periodFields = {
  group_id: Type.Union([Type.Integer(), Type.Null()], {
    description: 'The group ranked; null: everybody.',
  }),
  period: Type.String({ description: '`week`, `month` or `all`.' }),
  timezone: Type.String({ description: 'The zone the period is counted in.' }),
  from: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'Start of the period (inclusive); null for `all`.',
  }),
  to: Type.String({
    format: 'date-time',
    description: 'End of the period (exclusive); for `all`, now.',
  }),
  first_day: Type.Union([Type.String({ format: 'date' }), Type.Null()], {
    description: 'The first local day of the period; null for `all`.',
  }),
  last_day: Type.Union([Type.String({ format: 'date' }), Type.Null()], {
    description: 'The last local day of the period; null for `all`.',
  }),
};

const PeriodLeaderboardSchema = Type.Object({
  items: LeaderboardSchema.properties.items,
  ...periodFields,
});

/** GET /leaderboard answers the period fields only when asked for a group or a period. */
const LeaderboardAnswer = Type.Object({
  items: LeaderboardSchema.properties.items,
  ...Object.fromEntries(
    Object.entries(periodFields).map(([name, schema]) => [name, Type.Optional(schema)]),
  ),
});

const serialise = (board: PeriodLeaderboard) => ({
  items: board.items,
  group_id: board.group_id,
  period: board.period,
  timezone: board.timezone,
  from: board.from?.toISOString() ?? null,
  to: board.to.toISOString(),
  first_day: board.first_day,
  last_day: board.last_day,
});

/** GET /leaderboard: users by points; GET /groups/{id}/leaderboard: a group's, by period. */
export async function leaderboardRoutes(app: FastifyInstance, options: LeaderboardRoutesOptions) {
  const clock = options.clock ?? (() => new Date());
  const defaultTimezone = options.defaultTimezone ?? 'UTC';
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  typed.get(
    '/leaderboard',
    {
      schema: {
        summary: 'Users ranked by points, with their habit streaks',
        description:
          "Without `group_id` and `period`: everybody by their total points. With either: points earned in the period (default `week`), of the group's members (or everybody), as GET /groups/{id}/leaderboard answers.",
        tags: ['leaderboard'],
        querystring: Type.Object({
          limit: Limit,
          group_id: Type.Optional(Type.Integer({ minimum: 1 })),
          period: Type.Optional(Period),
        }),
        response: { 200: LeaderboardAnswer, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const { limit, group_id: groupId, period } = request.query;
      if (groupId === undefined && period === undefined) {
        return { items: await leaderboardWithStreaks(options, limit) };
      }
      return serialise(
        await periodLeaderboard(options.db, {
          groupId: groupId ?? null,
          period: period ?? 'week',
          limit,
          defaultTimezone,
          now: clock(),
        }),
      );
    },
  );
  typed.get(
    '/groups/:id/leaderboard',
    {
      schema: {
        summary: "A group's members ranked by points earned this week, month or ever",
        tags: ['leaderboard'],
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        querystring: Type.Object({ limit: Limit, period: Type.Optional(Period) }),
        response: { 200: PeriodLeaderboardSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) =>
      serialise(
        await periodLeaderboard(options.db, {
          groupId: request.params.id,
          period: request.query.period ?? 'week',
          limit: request.query.limit,
          defaultTimezone,
          now: clock(),
        }),
      ),
  );
}
