import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/executor.js';
import { requeueMessage } from '../../db/message-queue.js';
import { AppError } from '../../domain/errors.js';
import { ErrorBody, MessageSchema } from '../schemas.js';
import { findMessage } from './message-media.js';

export interface MessageReprocessRoutesOptions {
  db: Queryable;
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
      const message = await findMessage(options.db, request.params.message_id);
      const queued = await requeueMessage(options.db, message.id);
      if (!queued) {
        throw new AppError(
          'conflict',
          `Message ${message.id} is being processed right now; try again shortly.`,
        );
      }
      options.onQueued?.(queued.id);
      return reply.status(202).send(queued);
    },
  );
}
