import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { unauthorized } from '../../domain/errors.js';
import type { LiveEvents } from '../../services/live-events.js';
import { ErrorBody } from '../schemas.js';
import { lastEventId, streamEvents } from '../sse.js';

export interface EventsRoutesOptions {
  hub: LiveEvents;
  apiToken: string;
  heartbeatMs: number;
  open: Set<() => void>;
  clock: () => Date;
}

/** A stream token opens a stream for this long; an open stream is not cut when it expires. */
export const EVENTS_TOKEN_SECONDS = 600;

// The key is derived from API_TOKEN, so every instance signs and checks alike and changing
// the API token revokes the stream tokens too.
const keyOf = (apiToken: string): Buffer =>
  createHash('sha256').update(`taskwire-events:${apiToken}`).digest();

const sign = (key: Buffer, expires: number): string =>
  createHmac('sha256', key).update(`events.${expires}`).digest('base64url');

/** `<expiry in unix seconds>.<HMAC>`: nothing to store, checked by every instance. */
export function eventsToken(apiToken: string, now: Date): { token: string; expires_at: string } {
  const expires = Math.floor(now.getTime() / 1000) + EVENTS_TOKEN_SECONDS;
  return {
    token: `${expires}.${sign(keyOf(apiToken), expires)}`,
    expires_at: new Date(expires * 1000).toISOString(),
  };
}

function validToken(apiToken: string, token: string, now: Date): boolean {
  const match = /^(\d{1,12})\.([\w-]{43})$/.exec(token);
  if (!match) return false;
  const expires = Number(match[1]);
  const expected = Buffer.from(sign(keyOf(apiToken), expires));
  const given = Buffer.from(match[2] as string);
  return timingSafeEqual(expected, given) && expires * 1000 > now.getTime();
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** POST /events/token: for the admin scope (the API token is checked there). */
export async function eventsTokenRoutes(app: FastifyInstance, options: EventsRoutesOptions) {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/events/token',
    {
      schema: {
        summary: 'A short-lived token that opens the live event stream',
        description:
          'EventSource cannot send an Authorization header, so the dashboard trades its API ' +
          `token for this one and opens \`GET /events?token=…\`. Valid ${EVENTS_TOKEN_SECONDS / 60} ` +
          'minutes for opening a stream; a stream stays open after it expires.',
        tags: ['events'],
        response: {
          200: Type.Object({
            token: Type.String(),
            expires_at: Type.String({ format: 'date-time' }),
          }),
        },
      },
    },
    async () => eventsToken(options.apiToken, options.clock()),
  );
}

/**
 * GET /events: Server-Sent Events of every change (messages, replies, tasks, posts,
 * reviews, people) for the admin dashboard, from any instance. It authenticates itself:
 * `?token=` from POST /events/token, or the API token as a bearer header (curl).
 */
export async function eventsRoutes(app: FastifyInstance, options: EventsRoutesOptions) {
  const expected = digest(options.apiToken);
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/events',
    {
      schema: {
        summary: 'Live changes as Server-Sent Events',
        description:
          'Each event is `id: <n>`, `event: <kind>` (message, outbound, task, post, review, ' +
          'user) and `data:` `{ id, kind, action, row_id, user_id, group_id, at }`: which row ' +
          'changed, to be read again from its route. A reconnecting EventSource sends ' +
          'Last-Event-ID and gets what it missed (kept one hour); `?last_event_id=` does the ' +
          'same for a new one. A comment line every 15 seconds keeps the stream open.',
        tags: ['events'],
        security: [{ bearerAuth: [] }, { eventsToken: [] }],
        querystring: Type.Object({
          token: Type.Optional(Type.String({ maxLength: 100 })),
          last_event_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
        }),
        response: {
          200: {
            description: 'A text/event-stream that stays open.',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          401: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const header = request.headers.authorization;
      const bearer = header ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
      const { token } = request.query;
      const allowed =
        bearer !== undefined
          ? timingSafeEqual(digest(bearer), expected)
          : token !== undefined && validToken(options.apiToken, token, options.clock());
      if (!allowed) {
        throw unauthorized(
          bearer === undefined && token === undefined
            ? 'Missing token: open GET /events?token=<from POST /events/token>, or send the API token as a bearer header.'
            : 'Invalid or expired events token: get a new one from POST /events/token.',
        );
      }
      await streamEvents(request, reply, {
        hub: options.hub,
        filter: () => true,
        heartbeatMs: options.heartbeatMs,
        open: options.open,
        afterId: lastEventId(request, request.query.last_event_id),
      });
    },
  );
}
