import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { type ParticipantDeps, deleteMyAccount } from '../../services/participant.js';
import { ErrorBody } from '../schemas.js';

/**
 * DELETE /users/{id}: an admin removes a person as they could themselves from the
 * participant app (their rows and photos, a confirmation sent, anonymous totals left).
 */
export async function userDeletionRoutes(app: FastifyInstance, options: ParticipantDeps) {
  app.withTypeProvider<TypeBoxTypeProvider>().delete(
    '/users/:id',
    {
      schema: {
        summary: 'Delete a person and their data',
        description:
          'Their messages, replies, tasks, habits, posts, memberships and sessions go in one ' +
          'transaction, then their photos from the bucket; they are told (unless they opted ' +
          'out). Only anonymous totals remain.',
        tags: ['users'],
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        response: {
          200: Type.Object({ deleted: Type.Literal(true), photos_removed: Type.Integer() }),
          400: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => deleteMyAccount(options, request.params.id, request.log),
  );
}
