import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { UseCaseDeps } from '../../services/deps.js';
import { getOutbound, listOutbound } from '../../services/outbound.js';
import { type SenderNumbers, queueMessage } from '../../services/send-message.js';
import { ErrorBody, pageOf } from '../schemas.js';

const Timestamp = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const OutboundSchema = Type.Object({
  id: Type.Integer(),
  created_at: Timestamp,
  kind: Type.String({
    description:
      '`reply` (auto-reply to an inbound message), `greeting`, `send` (admin), `reminder` or `expiry` (about a task).',
  }),
  inbound_message_id: Type.Union([Type.Integer(), Type.Null()]),
  user_id: Type.Union([Type.Integer(), Type.Null()]),
  to_number: Type.String(),
  from_number: Type.String(),
  body: Type.String(),
  media_urls: Type.Array(Type.String()),
  twilio_sid: Type.Union([Type.String(), Type.Null()]),
  status: Type.String({
    description:
      "`pending`/`submitting` (ours), then Twilio's: `queued`, `sent`, `delivered`, `read`, `undelivered`, `failed`.",
  }),
  error_code: Type.Union([Type.Integer(), Type.Null()]),
  error_message: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Integer(),
  sent_at: NullableTimestamp,
  status_updated_at: NullableTimestamp,
  outbox: Type.Boolean({
    description:
      'True when delivered to the local development outbox (TWILIO_ACCOUNT_SID unset) instead of Twilio; `twilio_sid` is then a local `OB…` id.',
  }),
  task_id: Type.Union([Type.Integer(), Type.Null()], {
    description: 'The task a `reminder` or `expiry` message is about.',
  }),
  content_sid: Type.Union([Type.String(), Type.Null()], {
    description:
      'WhatsApp Content template sent instead of `body` (outside the 24-hour window); `body` then shows its text.',
  }),
  content_variables: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()]),
});

export interface OutboundRoutesOptions extends Pick<UseCaseDeps, 'db'> {
  senders: SenderNumbers;
}

/** What Taskwire sends: GET /outbound, GET /outbound/{id}, POST /messages/send. */
export async function outboundRoutes(app: FastifyInstance, options: OutboundRoutesOptions) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.get(
    '/outbound',
    {
      schema: {
        summary: 'Messages Taskwire sent or will send, newest first',
        tags: ['outbound'],
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
          inbound_message_id: Type.Optional(Type.Integer({ minimum: 1 })),
        }),
        response: { 200: pageOf(OutboundSchema), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { limit, offset, inbound_message_id } = request.query;
      const page = await listOutbound(options, {
        limit,
        offset,
        inboundMessageId: inbound_message_id ?? null,
      });
      return { ...page, limit, offset };
    },
  );

  typed.get(
    '/outbound/:id',
    {
      schema: {
        summary: 'One outbound message',
        tags: ['outbound'],
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        response: { 200: OutboundSchema, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => getOutbound(options, request.params.id),
  );

  typed.post(
    '/messages/send',
    {
      schema: {
        summary: 'Send a WhatsApp message or an SMS',
        tags: ['outbound'],
        body: Type.Object({
          to: Type.String({
            minLength: 3,
            maxLength: 40,
            description: 'E.164, e.g. +15551234567.',
          }),
          body: Type.String({ maxLength: 1600 }),
          channel: Type.Optional(
            Type.Union([Type.Literal('whatsapp'), Type.Literal('sms')], { default: 'whatsapp' }),
          ),
          media_urls: Type.Optional(Type.Array(Type.String({ format: 'uri' }), { maxItems: 10 })),
        }),
        response: { 202: OutboundSchema, 400: ErrorBody, 401: ErrorBody, 422: ErrorBody },
      },
    },
    async (request, reply) => {
      const row = await queueMessage(
        options.db,
        {
          to: request.body.to,
          body: request.body.body,
          channel: request.body.channel ?? 'whatsapp',
          mediaUrls: request.body.media_urls,
        },
        options.senders,
      );
      return reply.status(202).send(row);
    },
  );
}
