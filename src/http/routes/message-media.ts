import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/executor.js';
import { findMessageById, findMessageBySid } from '../../db/messages.js';
import { AppError, notFound, validationFailed } from '../../domain/errors.js';
import type { MessageRow } from '../../domain/message.js';
import type { BlobStore } from '../../storage/adapter.js';
import { ErrorBody } from '../schemas.js';

export interface MessageMediaRoutesOptions {
  db: Queryable;
  store: BlobStore;
}

export async function findMessage(db: Queryable, key: string): Promise<MessageRow> {
  const row = /^\d{1,15}$/.test(key)
    ? await findMessageById(db, Number(key))
    : await findMessageBySid(db, key);
  if (!row) throw notFound(`No message with id or MessageSid "${key}".`);
  return row;
}

/**
 * GET /messages/{message_id}/media/{media_index} (the guide's route): the stored copy
 * from our bucket, streamed — not fetched from Twilio again on every call.
 */
export async function messageMediaRoutes(app: FastifyInstance, options: MessageMediaRoutesOptions) {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/messages/:message_id/media/:media_index',
    {
      schema: {
        summary: 'One media item of a message, from our storage',
        tags: ['messages'],
        params: Type.Object({
          message_id: Type.String({ minLength: 1, maxLength: 64 }),
          media_index: Type.String({ description: 'Zero-based index of the media item.' }),
        }),
        querystring: Type.Object({
          as_base64: Type.Boolean({
            default: false,
            description: 'Answer JSON `{ content_type, size, data }` with the bytes in base64.',
          }),
        }),
        response: {
          200: {
            description: 'The bytes with their Content-Type, or with `as_base64=true` JSON.',
            content: {
              'application/json': {
                schema: Type.Object({
                  content_type: Type.String(),
                  size: Type.Integer({ description: 'Bytes.' }),
                  data: Type.String({ description: 'The bytes, base64.' }),
                }),
              },
              '*/*': { schema: Type.Unsafe({ type: 'string', format: 'binary' }) },
            },
          },
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { message_id, media_index } = request.params;
      if (!/^\d{1,3}$/.test(media_index)) {
        throw validationFailed(`media_index must be a whole number from 0, got "${media_index}".`);
      }
      const index = Number(media_index);
      const message = await findMessage(options.db, message_id);
      if (index >= message.media_items.length) {
        throw notFound(
          `Message ${message.id} has ${message.media_items.length} media item(s); there is no index ${index}.`,
        );
      }
      const stored = message.stored_media.find((item) => item.index === index);
      if (!stored) {
        throw new AppError(
          'conflict',
          `Media ${index} of message ${message.id} is not stored yet (processing_status: ${message.processing_status}).`,
        );
      }
      if (!stored.key) {
        throw notFound(
          `Media ${index} of message ${message.id} could not be stored: ${stored.error ?? 'unknown error'}.`,
        );
      }
      const object = await options.store.get(stored.key).catch((error: unknown) => {
        // Storage down is no fault of the request and no crash of ours: a 503, which a
        // client may retry, rather than a 500.
        request.log.warn({ key: stored.key, err: error }, 'storage did not answer for a photo');
        throw new AppError(
          'service_unavailable',
          `Storage did not answer for media ${index} of message ${message.id}; try again shortly.`,
          { cause: error },
        );
      });
      if (!object)
        throw notFound(`Media ${index} of message ${message.id} is missing from storage.`);
      if (request.query.as_base64) {
        const chunks: Buffer[] = [];
        for await (const chunk of object.body) chunks.push(chunk as Buffer);
        const bytes = Buffer.concat(chunks);
        return reply.send({
          content_type: object.contentType,
          size: bytes.length,
          data: bytes.toString('base64'),
        });
      }
      return reply
        .header('content-type', object.contentType)
        .header('content-length', object.size)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'private, max-age=3600')
        .send(object.body);
    },
  );
}
