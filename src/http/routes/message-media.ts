import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { validationFailed } from '../../domain/errors.js';
import type { UseCaseDeps } from '../../services/deps.js';
import { readStoredMedia } from '../../services/messages.js';
import { ErrorBody } from '../schemas.js';

export type MessageMediaRoutesOptions = Pick<UseCaseDeps, 'db' | 'store'>;

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
      // Storage down is no fault of the request and no crash of ours: the use case answers
      // 503, which a client may retry, rather than a 500; the cause is worth a log line.
      const onStorageFailure = (key: string, error: unknown) =>
        request.log.warn({ key, err: error }, 'storage did not answer for a photo');
      const index = Number(media_index);
      const object = await readStoredMedia(options, message_id, index, onStorageFailure);
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
