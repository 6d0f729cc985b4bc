import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  GROUP_NAME_MAX_LENGTH,
  groupReviews,
  groupRoles,
  groupShares,
} from '../../domain/group.js';
import {
  addGroupMember,
  createGroup,
  getGroup,
  type GroupDeps,
  listGroups,
  removeGroupMember,
  updateGroup,
} from '../../services/groups.js';
import { ErrorBody, IdSchema, pageOf, pagingQuery } from '../schemas.js';

export type GroupsRoutesOptions = GroupDeps;

const Timestamp = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
// Patterns rather than enums: the validation error then names the allowed values.
const oneOf = <Value extends string>(values: readonly Value[], description: string) =>
  Type.Unsafe<Value>({ type: 'string', pattern: `^(${values.join('|')})$`, description });

const Name = Type.String({
  minLength: 1,
  maxLength: GROUP_NAME_MAX_LENGTH,
  description: 'What members call it, 1 to 100 characters (`new … in <name>`, `leave <name>`).',
});
const Timezone = Type.String({
  minLength: 1,
  maxLength: 64,
  description: "IANA zone of its weeks, months and evening digest; default the deployment's TZ.",
});
const Review = oneOf(
  groupReviews,
  '`none` (default): a photo completes the task; `peer`: another member approves it first; ' +
    '`model`: a vision model decides, falling back to peer review when unsure.',
);
const Share = oneOf(
  groupShares,
  '`instant` (default): each member is told of each proof; `digest`: once a day; `off`.',
);
// One schema with a type list, not a union: with coerceTypes a union's integer branch
// would turn null into 0, and a null-first union would turn 0 into null.
const DigestHour = Type.Unsafe<number | null>({
  type: ['integer', 'null'],
  minimum: 0,
  maximum: 23,
  description:
    "The evening hour, 0 to 23 in the group's time zone, from which its daily digest of shared " +
    'proofs and its Sunday digest of the week go out; null: SHARE_DIGEST_HOUR (default 19).',
});
const Role = oneOf(groupRoles, '`admin` or `member` (default).');

const GroupSchema = Type.Object({
  id: Type.Integer(),
  created_at: Timestamp,
  name: Type.String(),
  timezone: Type.Union([Type.String(), Type.Null()], { description: 'Null: TZ.' }),
  review: Type.String({ description: '`none`, `peer` or `model`.' }),
  share: Type.String({ description: '`instant`, `digest` or `off`.' }),
  invite_code: Type.String({ description: 'What `join <code>` takes (any case).' }),
  is_default: Type.Boolean({
    description:
      'The group holding everybody from before groups, and where a sender who never joined one lands.',
  }),
  digest_hour: Type.Union([Type.Integer(), Type.Null()], {
    description:
      'Hour (0–23, group time) of its daily and Sunday digests; null: SHARE_DIGEST_HOUR.',
  }),
  join_url: Type.Union([Type.String(), Type.Null()], {
    description:
      'https://wa.me/<TWILIO_WHATSAPP_NUMBER>?text=join%20<code>: opens WhatsApp with the join ' +
      'message typed. Null without TWILIO_WHATSAPP_NUMBER.',
  }),
});
const MemberSchema = Type.Object({
  user_id: Type.Integer(),
  username: Type.String(),
  role: Type.String({ description: '`admin` or `member`.' }),
  joined_at: Timestamp,
});
const GroupListItemSchema = Type.Object({
  ...GroupSchema.properties,
  member_count: Type.Integer(),
});
const GroupWithMembersSchema = Type.Object({
  ...GroupSchema.properties,
  members: Type.Array(MemberSchema, { description: 'Admins first, then in joining order.' }),
});
const GroupIdParams = Type.Object({ id: IdSchema });

/** Groups: POST/GET /groups, GET/PATCH /groups/{id}, and their members. */
export async function groupsRoutes(app: FastifyInstance, options: GroupsRoutesOptions) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.post(
    '/groups',
    {
      schema: {
        summary: 'Create a group, with its invite code and join link',
        tags: ['groups'],
        body: Type.Object({
          name: Name,
          timezone: Type.Optional(Type.Union([Timezone, Type.Null()])),
          review: Type.Optional(Review),
          share: Type.Optional(Share),
          digest_hour: Type.Optional(DigestHour),
        }),
        response: { 201: GroupSchema, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request, reply) => reply.status(201).send(await createGroup(options, request.body)),
  );

  typed.get(
    '/groups',
    {
      schema: {
        summary: 'List groups, the default group first',
        tags: ['groups'],
        querystring: Type.Object(pagingQuery(50)),
        response: { 200: pageOf(GroupListItemSchema), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      return { ...(await listGroups(options, { limit, offset })), limit, offset };
    },
  );

  typed.get(
    '/groups/:id',
    {
      schema: {
        summary: 'One group with its members and their roles',
        tags: ['groups'],
        params: GroupIdParams,
        response: { 200: GroupWithMembersSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => getGroup(options, request.params.id),
  );

  typed.patch(
    '/groups/:id',
    {
      schema: {
        summary: "Change a group's name, time zone, review, sharing or digest hour",
        tags: ['groups'],
        params: GroupIdParams,
        body: Type.Object({
          name: Type.Optional(Name),
          timezone: Type.Optional(
            Type.Union([Timezone, Type.Null()], { description: 'null: back to TZ.' }),
          ),
          review: Type.Optional(Review),
          share: Type.Optional(Share),
          digest_hour: Type.Optional(DigestHour),
        }),
        response: { 200: GroupSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => updateGroup(options, request.params.id, request.body),
  );

  typed.post(
    '/groups/:id/members',
    {
      schema: {
        summary: "Add a person to a group (or change their role when they're in it)",
        tags: ['groups'],
        params: GroupIdParams,
        body: Type.Object({ user_id: IdSchema, role: Type.Optional(Role) }),
        response: {
          200: Type.Object({ ...MemberSchema.properties, added: Type.Literal(false) }),
          201: Type.Object({ ...MemberSchema.properties, added: Type.Literal(true) }),
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
          422: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const member = await addGroupMember(options, request.params.id, request.body);
      return reply.status(member.added ? 201 : 200).send(member);
    },
  );

  typed.delete(
    '/groups/:id/members/:user_id',
    {
      schema: {
        summary: 'Take a person out of a group (their tasks keep the group)',
        tags: ['groups'],
        params: Type.Object({ id: IdSchema, user_id: IdSchema }),
        response: {
          204: { description: 'Removed.', type: 'null' },
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      await removeGroupMember(options, request.params.id, request.params.user_id);
      return reply.status(204).send(null);
    },
  );
}
