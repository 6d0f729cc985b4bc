import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/executor.js';
import type { LiveEvents } from '../../services/live-events.js';
import { liveFilterFor } from '../../services/participant.js';
import { sessionStillLive } from '../../services/sign-in.js';
import { participantOf, requireSession } from '../plugins/session-auth.js';
import { lastEventId, streamEvents } from '../sse.js';

/** How often an open stream checks that its session still holds. */
const SESSION_CHECK_MS = 30_000;

export interface ParticipantEventsOptions {
  db: Queryable;
  clock: () => Date;
  hub: LiveEvents;
  heartbeatMs: number;
  open: Set<() => void>;
}

/**
 * GET /app/api/events: the participant app's live stream (Server-Sent Events, the same
 * frames as the admin's GET /events), limited by the session to the person's own rows and
 * their groups'. EventSource sends the cookie by itself, so no token is needed.
 */
export async function participantEventsRoutes(
  app: FastifyInstance,
  options: ParticipantEventsOptions,
) {
  requireSession(app, { db: options.db, clock: options.clock });
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/app/api/events',
    {
      schema: {
        querystring: Type.Object({
          last_event_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
        }),
      },
    },
    async (request, reply) => {
      const { userId, sessionId } = participantOf(request);
      const mine = await liveFilterFor({ db: options.db }, userId);
      // A session ended while its stream is open (logout elsewhere, `logout` on WhatsApp,
      // the account deleted) stops carrying anything at the next check; the browser's next
      // reconnection is then refused.
      let live = true;
      const check = setInterval(() => {
        void sessionStillLive(options.db, sessionId, options.clock()).then(
          (still) => {
            live &&= still;
          },
          () => {},
        );
      }, SESSION_CHECK_MS);
      check.unref();
      request.raw.once('close', () => clearInterval(check));
      await streamEvents(request, reply, {
        hub: options.hub,
        filter: (event) => live && mine(event),
        heartbeatMs: options.heartbeatMs,
        open: options.open,
        afterId: lastEventId(request, request.query.last_event_id),
      });
    },
  );
}
