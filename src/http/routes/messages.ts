import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { senderFromAddress } from '../../domain/message.js';
import { findMessage, listMessages, type MessageDeps } from '../../services/messages.js';
import { ErrorBody, MessageSchema, pageOf } from '../schemas.js';
import { type ObjectUrl, type OnUrlFailure, withStorageUrls } from '../storage-urls.js';

export interface MessagesRoutesOptions extends MessageDeps {
  /** The URL of an object key: `storage_urls` are built from the stored keys when answering. */
  objectUrl: ObjectUrl;
}

const MessageIdParams = Type.Object({
  message_id: Type.String({
    description: 'The numeric `id` or the Twilio `MessageSid` (`SM...`/`MM...`).',
    minLength: 1,
    maxLength: 64,
  }),
});

/**
 * The sender a `from_number` filter means. A `+` typed unencoded into a query string
 * (`?from_number=+1555...`, as in a curl command) arrives as a space: read a space before
 * the digits as that `+`.
 */
const senderFromQuery = (fromNumber: string): string =>
  senderFromAddress(fromNumber.replace(/^\s*([a-z]+:)?\s+(?=\d)/i, '$1+').trim());

/** The guide's message routes: GET /messages/ and GET /messages/{message_id}. */
export async function messagesRoutes(app: FastifyInstance, options: MessagesRoutesOptions) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const logFailure =
    (log: FastifyBaseLogger): OnUrlFailure =>
    (key, error) =>
      log.warn({ key, err: error }, 'could not make the URL of a stored photo');

  typed.get(
    '/messages',
    {
      schema: {
        summary: 'List inbound messages, newest first',
        tags: ['messages'],
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
          from_number: Type.Optional(
            Type.String({
              description: 'Sender, as `whatsapp:+15551234567` or `+15551234567`.',
              minLength: 1,
              maxLength: 64,
            }),
          ),
        }),
        response: { 200: pageOf(MessageSchema), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { limit, offset, from_number } = request.query;
      const sender = from_number ? senderFromQuery(from_number) : null;
      const page = await listMessages(options, { limit, offset, sender });
      const items = await Promise.all(
        page.items.map((row) => withStorageUrls(row, options.objectUrl, logFailure(request.log))),
      );
      return { items, total: page.total, limit, offset };
    },
  );

  typed.get(
    '/messages/:message_id',
    {
      schema: {
        summary: 'One inbound message, by id or MessageSid',
        tags: ['messages'],
        params: MessageIdParams,
        response: { 200: MessageSchema, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const row = await findMessage(options, request.params.message_id);
      return withStorageUrls(row, options.objectUrl, logFailure(request.log));
    },
  );
}
