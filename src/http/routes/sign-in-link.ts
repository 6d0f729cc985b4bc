import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/executor.js';
import type { SenderNumbers } from '../../services/send-message.js';
import { sendSignInLink } from '../../services/sign-in.js';
import { type Limit, limiter } from '../plugins/sign-in-limits.js';
import { ErrorBody } from '../schemas.js';

export interface SignInLinkRoutesOptions {
  db: Queryable;
  senders: SenderNumbers;
  /** PUBLIC_URL, else null: the link is then built from the request's own origin. */
  publicUrl: string | null;
  clock: () => Date;
  /** Links sent to one person (default 10 per 15 minutes, a link's lifetime). */
  perPerson?: Limit;
}

/** Links one person may be sent per 15 minutes (a link's lifetime) by the admin route. */
export const SIGN_IN_LINKS_PER_PERSON: Limit = { max: 10, windowMs: 15 * 60_000 };

/** POST /users/{id}/sign-in-link: the dashboard's "Send sign-in link" (admin). */
export async function signInLinkRoutes(app: FastifyInstance, options: SignInLinkRoutesOptions) {
  // Each press is a WhatsApp message to the person: a stuck button or a script must not
  // flood their phone, whoever holds the API token.
  const perPerson = limiter(
    app,
    options.perPerson ?? SIGN_IN_LINKS_PER_PERSON,
    (request) => `user:${(request.params as { id: number }).id}`,
  );
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
          429: ErrorBody,
        },
      },
      // After validation: the id is a number then, one key per person however it is spelt.
      preHandler: async (request, reply) =>
        perPerson(request, reply, `Too many sign-in links sent to user ${request.params.id}`),
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
