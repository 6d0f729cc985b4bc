import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/executor.js';
import type { SenderNumbers } from '../../services/send-message.js';
import { sendSignInLink } from '../../services/sign-in.js';
import { ErrorBody } from '../schemas.js';

export interface SignInLinkRoutesOptions {
  db: Queryable;
  senders: SenderNumbers;
  /** PUBLIC_URL, else null: the link is then built from the request's own origin. */
  publicUrl: string | null;
  clock: () => Date;
}

/** POST /users/{id}/sign-in-link: the dashboard's "Send sign-in link" (admin). */
export async function signInLinkRoutes(app: FastifyInstance, options: SignInLinkRoutesOptions) {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/users/:id/sign-in-link',
    {
      schema: {
        summary: 'Send a person a sign-in link to the participant app',
        description:
          'Queues a WhatsApp message (SMS without a WhatsApp sender) carrying a single-use ' +
          'link to `/app`, valid 15 minutes. The answer does not contain the link: only the ' +
          'person receives it.',
        tags: ['users'],
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        response: {
          202: Type.Object({
            outbound_message_id: Type.Integer(),
            channel: Type.Union([Type.Literal('whatsapp'), Type.Literal('sms')]),
            expires_at: Type.Unsafe<Date>({ type: 'string', format: 'date-time' }),
          }),
          404: ErrorBody,
          422: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const baseUrl = options.publicUrl ?? `${request.protocol}://${request.host}`;
      const sent = await sendSignInLink(
        { db: options.db, senders: options.senders, baseUrl, clock: options.clock },
        request.params.id,
      );
      return reply.status(202).send(sent);
    },
  );
}
