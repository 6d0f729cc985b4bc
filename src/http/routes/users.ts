import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { USERNAME_MAX_LENGTH } from '../../domain/user.js';
import {
  createUser,
  getUserWithState,
  listUsersWithState,
  updateUser,
  userWithState,
  type UserStateDeps,
} from '../../services/users.js';
import { ErrorBody, IdSchema, pageOf, pagingQuery, UserSchema } from '../schemas.js';

export type UsersRoutesOptions = UserStateDeps;

/** Every user answer: the row, and the zone and pause the person's messages follow. */
const UserWithStateSchema = Type.Object({
  ...UserSchema.properties,
  zone_in_effect: Type.String({
    description:
      "The zone the person's due times are read and shown in: `timezone` when set, else their " +
      "phone number's country's when it keeps one time, else TZ.",
  }),
  zone_source: Type.Union([Type.Literal('set'), Type.Literal('phone'), Type.Literal('default')], {
    description: '`set`: their own `timezone`; `phone`: from their number; `default`: TZ.',
  }),
  pause: Type.Union(
    [
      Type.Object({
        first_day: Type.String({ format: 'date', description: 'First paused local day.' }),
        last_day: Type.String({ format: 'date', description: 'Last paused local day.' }),
        ends_at: Type.Unsafe<Date>({ type: 'string', format: 'date-time' }),
      }),
      Type.Null(),
    ],
    {
      description:
        'The pause in force now (`pause 3 days` by WhatsApp): no reminders, nothing expires, ' +
        'streaks kept. Null when not paused.',
    },
  ),
});

const Username = Type.String({
  minLength: 1,
  maxLength: USERNAME_MAX_LENGTH,
  description: 'Display name, 1 to 100 characters (trimmed).',
});
const PhoneNumber = Type.String({
  minLength: 1,
  maxLength: 64,
  description:
    'E.164 (`+15551234567`); `whatsapp:+15551234567`, spaces and dashes are accepted and removed.',
});
const WhatsappId = Type.String({
  minLength: 1,
  maxLength: 140,
  description:
    "For a WhatsApp username: the id after `whatsapp:` in Twilio's `From` (e.g. `US.13491208655302741918`).",
});
const Timezone = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'IANA time zone name, e.g. `Europe/Paris`.',
});
// With the app's type coercion, "" also matches the null branch of a nullable field, so
// `""` clears whatsapp_id or timezone just as `null` does.
const UserIdParams = Type.Object({ id: IdSchema });

/** The people of the group: POST/GET /users, GET/PATCH /users/{id}. */
export async function usersRoutes(app: FastifyInstance, options: UsersRoutesOptions) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.post(
    '/users',
    {
      schema: {
        summary: 'Create a user',
        tags: ['users'],
        body: Type.Object({
          username: Username,
          phone_number: PhoneNumber,
          whatsapp_id: Type.Optional(WhatsappId),
          timezone: Type.Optional(Timezone),
          group_id: Type.Optional(
            Type.Integer({
              minimum: 1,
              description:
                'The group they join (422 when there is none); default: the default group.',
            }),
          ),
        }),
        response: {
          201: UserWithStateSchema,
          400: ErrorBody,
          401: ErrorBody,
          409: ErrorBody,
          422: ErrorBody,
        },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await userWithState(options, await createUser(options, request.body))),
  );

  typed.get(
    '/users',
    {
      schema: {
        summary: 'List users in the order they were created',
        tags: ['users'],
        querystring: Type.Object(pagingQuery(50)),
        response: { 200: pageOf(UserWithStateSchema), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const page = await listUsersWithState(options, { limit, offset });
      return { ...page, limit, offset };
    },
  );

  typed.get(
    '/users/:id',
    {
      schema: {
        summary: 'One user, with their zone in effect, pause and opt-out',
        tags: ['users'],
        params: UserIdParams,
        response: { 200: UserWithStateSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => getUserWithState(options, request.params.id),
  );

  typed.patch(
    '/users/:id',
    {
      schema: {
        summary: "Change a user's name, phone number, WhatsApp id or time zone",
        tags: ['users'],
        params: UserIdParams,
        body: Type.Object({
          username: Type.Optional(Username),
          phone_number: Type.Optional(PhoneNumber),
          whatsapp_id: Type.Optional(
            Type.Union([WhatsappId, Type.Null()], { description: 'null (or "") removes it.' }),
          ),
          timezone: Type.Optional(
            Type.Union([Timezone, Type.Null()], { description: 'null (or "") removes it.' }),
          ),
        }),
        response: {
          200: UserWithStateSchema,
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request) =>
      userWithState(options, await updateUser(options, request.params.id, request.body)),
  );
}
