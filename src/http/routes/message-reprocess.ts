import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type MessageDeps, reprocessMessage } from '../../services/messages.js';
import { ErrorBody, MessageSchema } from '../schemas.js';
import { type ObjectUrl, withStorageUrls } from '../storage-urls.js';

export interface MessageReprocessRoutesOptions extends MessageDeps {
  /** The URL of an object key, for the message's storage_urls (as GET /messages answers). */
  objectUrl: ObjectUrl;
  /** Told when a message is queued again, to wake this process's worker. */
  onQueued?: (id: number) => void;
}

/** POST /messages/{message_id}/reprocess: queue a failed (or processed) message again. */
export async function messageReprocessRoutes(
  app: FastifyInstance,
  options: MessageReprocessRoutesOptions,
) {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/messages/:message_id/reprocess',
    {
      schema: {
        summary: 'Queue a message for processing again',
        tags: ['messages'],
        params: Type.Object({ message_id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 202: MessageSchema, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const queued = await reprocessMessage(options, request.params.message_id);
      const answered = await withStorageUrls(queued, options.objectUrl, (key, error) =>
        request.log.warn({ key, err: error }, 'could not make the URL of a stored photo'),
      );
      return reply.status(202).send(answered);
    },
  );
}
