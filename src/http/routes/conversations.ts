import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { getConversation, listConversations } from '../../services/conversations.js';
import type { UseCaseDeps } from '../../services/deps.js';
import { ErrorBody, pageOf } from '../schemas.js';
import { OutboundSchema } from './outbound.js';

export type ConversationsRoutesOptions = Pick<UseCaseDeps, 'db' | 'clock'>;

const Timestamp = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

const ConversationSchema = Type.Object({
  number: Type.String({ description: 'The person’s number, E.164 without a channel prefix.' }),
  user_id: Type.Union([Type.Integer(), Type.Null()]),
  username: Type.Union([Type.String(), Type.Null()]),
  opted_out: Type.Boolean(),
  last_activity_at: NullableTimestamp,
  last_inbound_at: NullableTimestamp,
  last_whatsapp_inbound_at: NullableTimestamp,
  last_body: Type.Union([Type.String(), Type.Null()]),
  inbound_count: Type.Integer(),
  failed_count: Type.Integer({
    description: 'Inbound messages that failed to process plus sends Twilio did not deliver.',
  }),
  awaiting_review_count: Type.Integer({ description: 'Their proofs waiting for a review.' }),
  window_open: Type.Boolean({
    description:
      'They wrote on WhatsApp in the last 24 hours: a free-form reply is allowed. Otherwise send an SMS (channel sms) or a Content template.',
  }),
  window_closes_at: NullableTimestamp,
});

/** GET /conversations and GET /conversations/{number}: the admin inbox. */
export async function conversationsRoutes(
  app: FastifyInstance,
  options: ConversationsRoutesOptions,
) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.get(
    '/conversations',
    {
      schema: {
        summary: 'Conversations, one per person, newest activity first',
        tags: ['messages'],
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 30 }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
          q: Type.Optional(
            Type.String({ maxLength: 100, description: 'In the name, the number or a message.' }),
          ),
          filter: Type.Optional(
            Type.Union([
              Type.Literal('failed'),
              Type.Literal('awaiting_review'),
              Type.Literal('opted_out'),
            ]),
          ),
        }),
        response: { 200: pageOf(ConversationSchema), 400: ErrorBody },
      },
    },
    async (request) => {
      const { limit, offset, q, filter } = request.query;
      const page = await listConversations(options, {
        limit,
        offset,
        search: q ?? null,
        filter: filter ?? null,
      });
      return { ...page, limit, offset };
    },
  );

  typed.get(
    '/conversations/:number',
    {
      schema: {
        summary: 'One conversation and what Taskwire sent to the person',
        description:
          'The inbound side is `GET /messages?from_number=<number>` (with its photos and status).',
        tags: ['messages'],
        params: Type.Object({ number: Type.String({ maxLength: 20 }) }),
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
        }),
        response: {
          200: Type.Object({
            conversation: ConversationSchema,
            outbound: Type.Array(OutboundSchema),
          }),
          400: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => getConversation(options, request.params.number, request.query.limit),
  );
}
