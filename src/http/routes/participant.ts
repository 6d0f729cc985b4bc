import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { leaderboardPeriods } from '../../services/leaderboards.js';
import {
  type ParticipantDeps,
  deleteMyAccount,
  exportMyData,
  feed,
  leaderboards,
  leaveGroup,
  me,
  photo,
  reviewsForMe,
  runPhrase,
  today,
  updateMe,
  voteOnReview,
} from '../../services/participant.js';
import { participantOf, requireSession, setSessionCookie } from '../plugins/session-auth.js';

export interface ParticipantRoutesOptions extends ParticipantDeps {
  /** PUBLIC_URL, else null: export links are then built from the request's own origin. */
  publicUrl: string | null;
}

const Id = Type.Object({ id: Type.Integer({ minimum: 1 }) });

/**
 * The participant app's API under /app/api: the session (session-auth.ts) says who asks,
 * and every use case answers only that person's rows and what their groups share. Not in
 * the OpenAPI document: it is the app's own back end, not an integration surface.
 */
export async function participantRoutes(app: FastifyInstance, options: ParticipantRoutesOptions) {
  requireSession(app, { db: options.db, clock: options.clock });
  // Only JSON bodies: a cross-site form (urlencoded, multipart, text/plain) cannot send it.
  app.removeContentTypeParser('text/plain');
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('cache-control', 'no-store');
  });
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const who = (request: Parameters<typeof participantOf>[0]) => participantOf(request).userId;

  typed.get('/app/api/me', async (request) => me(options, who(request)));

  typed.patch(
    '/app/api/me',
    {
      schema: {
        body: Type.Object(
          {
            opted_out: Type.Optional(Type.Boolean()),
            share_proofs: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
      },
    },
    async (request) => updateMe(options, who(request), request.body),
  );

  typed.get('/app/api/today', async (request) => today(options, who(request)));

  typed.post(
    '/app/api/phrases',
    {
      schema: {
        body: Type.Object(
          { text: Type.String({ minLength: 1, maxLength: 2000 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => runPhrase(options, who(request), request.body.text),
  );

  typed.get(
    '/app/api/feed',
    {
      schema: {
        querystring: Type.Object({
          group_id: Type.Optional(Type.Integer({ minimum: 1 })),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 30 }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
        }),
      },
    },
    async (request) =>
      feed(options, who(request), {
        groupId: request.query.group_id ?? null,
        limit: request.query.limit,
        offset: request.query.offset,
      }),
  );

  typed.get(
    '/app/api/photo',
    {
      schema: { querystring: Type.Object({ key: Type.String({ minLength: 1, maxLength: 500 }) }) },
    },
    async (request, reply) => {
      const object = await photo(options, who(request), request.query.key);
      return reply
        .header('content-type', object.contentType)
        .header('content-length', object.size)
        .header('x-content-type-options', 'nosniff')
        .send(object.body);
    },
  );

  typed.get(
    '/app/api/leaderboards',
    {
      schema: {
        querystring: Type.Object({
          period: Type.Union(
            leaderboardPeriods.map((period) => Type.Literal(period)),
            { default: 'week' },
          ),
        }),
      },
    },
    async (request) => leaderboards(options, who(request), request.query.period),
  );

  typed.get('/app/api/reviews', async (request) => reviewsForMe(options, who(request)));

  typed.post(
    '/app/api/reviews/:id',
    {
      schema: {
        params: Id,
        body: Type.Object(
          {
            approve: Type.Boolean(),
            reason: Type.Optional(Type.String({ maxLength: 500 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) =>
      voteOnReview(options, who(request), request.params.id, {
        approve: request.body.approve,
        reason: request.body.reason ?? null,
      }),
  );

  typed.post('/app/api/groups/:id/leave', { schema: { params: Id } }, async (request) =>
    leaveGroup(options, who(request), request.params.id),
  );

  typed.get('/app/api/export', async (request, reply) => {
    const base = options.publicUrl ?? `${request.protocol}://${request.host}`;
    void reply.header('content-disposition', 'attachment; filename="taskwire-export.json"');
    return exportMyData(options, who(request), base.replace(/\/+$/, ''));
  });

  typed.delete('/app/api/me', async (request, reply) => {
    const result = await deleteMyAccount(options, who(request), request.log);
    setSessionCookie(request, reply, null);
    return result;
  });
}
