import type { FastifySchemaCompiler } from 'fastify';
import { Type } from 'typebox';

/**
 * The validator of a route whose request schema documents the input without checking it:
 * the Twilio webhooks must verify the signature before anything the body says is judged
 * (an unsigned request is a 403, never a 400), and the handler parses the body itself.
 */
export const documentationOnly: FastifySchemaCompiler<unknown> = () => () => true;

/** The error body every 4xx/5xx carries. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. `validation_failed`.' }),
      message: Type.String({ description: 'What was wrong, for a person.' }),
    }),
  },
  { $id: 'ErrorBody' },
);

// Rows carry Date objects; the response serializer writes them as ISO 8601 strings.
const Timestamp = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const MediaItemSchema = Type.Object({
  url: Type.String({ description: "Twilio's URL of the attachment." }),
  content_type: Type.String(),
});

/** messages.proof_rejection (src/services/proof-check.ts). */
const ProofRejectionSchema = Type.Object({
  reason: Type.String({
    description:
      '`duplicate_photo` (the same bytes as an earlier proof), `similar_photo` (a re-encoded or ' +
      'resized copy of one, by difference hash within PROOF_DUPLICATE_DISTANCE) or `not_a_photo`.',
  }),
  message: Type.String({ description: 'Why, for a person.' }),
  earlier: Type.Optional(
    Type.Object(
      {
        feed_id: Type.Integer(),
        task_id: Type.Union([Type.Integer(), Type.Null()]),
        user_id: Type.Integer(),
        username: Type.String(),
        posted_at: Type.String({ format: 'date-time' }),
        distance: Type.Integer({ description: 'Differing hash bits, 0 for the same bytes.' }),
      },
      { description: 'The earlier proof this photo repeats.' },
    ),
  ),
});

export const MessageSchema = Type.Object({
  id: Type.Integer(),
  message_sid: Type.String(),
  from_number: Type.String({ description: 'As Twilio sent it, e.g. `whatsapp:+15551234567`.' }),
  to_number: Type.String(),
  body: Type.String(),
  num_media: Type.Integer(),
  media_items: Type.Array(MediaItemSchema),
  created_at: Timestamp,
  processed: Type.Boolean(),
  storage_urls: Type.Array(Type.Union([Type.String(), Type.Null()]), {
    description:
      'A URL a browser loads for each stored item, made when answering: relative for the local ' +
      "driver (on PUBLIC_URL when set), else the bucket's public or signed URL. Null where " +
      'storage could not give one (see storage_url_errors).',
  }),
  storage_url_errors: Type.Array(Type.Union([Type.String(), Type.Null()]), {
    description: 'Beside each of storage_urls: why it is null (e.g. storage down), else null.',
  }),
  processing_status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('processing'),
    Type.Literal('processed'),
    Type.Literal('failed'),
  ]),
  attempts: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  processed_at: NullableTimestamp,
  stored_media: Type.Array(
    Type.Object({
      index: Type.Integer(),
      key: Type.Optional(Type.String()),
      content_type: Type.Optional(Type.String()),
      size: Type.Optional(Type.Integer()),
      sha256: Type.Optional(Type.String({ description: 'SHA-256 of the stored bytes (hex).' })),
      dhash: Type.Optional(
        Type.Union([Type.String(), Type.Null()], {
          description:
            "An image's 64-bit difference hash (16 hex digits): near copies differ in few bits.",
        }),
      ),
      error: Type.Optional(Type.String()),
    }),
    { description: 'What became of each media item: stored under `key`, or `error`.' },
  ),
  raw: Type.Record(Type.String(), Type.Union([Type.String(), Type.Array(Type.String())]), {
    description: 'Every parameter Twilio posted.',
  }),
  proof_rejection: Type.Union([ProofRejectionSchema, Type.Null()], {
    description: 'Why the message did not complete a task; null when it did or was no attempt.',
  }),
});

export const pageOf = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    total: Type.Integer(),
    limit: Type.Integer(),
    offset: Type.Integer(),
  });

/** A database id in a path or a body: a positive integer. */
export const IdSchema = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/** `limit` and `offset` query parameters, to spread into a querystring schema. */
export const pagingQuery = (defaultLimit: number) => ({
  limit: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: defaultLimit,
    description: `Items per page, 1 to 100 (default ${defaultLimit}).`,
  }),
  // Bounded: `1e300` is an integer to JSON Schema, but no bigint for Postgres's OFFSET.
  offset: Type.Integer({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    default: 0,
    description: 'Items to skip (default 0).',
  }),
});

export const UserSchema = Type.Object({
  id: Type.Integer(),
  created_at: Timestamp,
  username: Type.String(),
  phone_number: Type.Union([Type.String(), Type.Null()], {
    description: 'E.164, e.g. `+15551234567`.',
  }),
  points: Type.Integer(),
  whatsapp_id: Type.Union([Type.String(), Type.Null()], {
    description: "For a WhatsApp username: the id after `whatsapp:` in Twilio's `From`.",
  }),
  timezone: Type.Union([Type.String(), Type.Null()], {
    description: 'IANA time zone name, e.g. `Europe/Paris`.',
  }),
  opted_out_at: Type.Union([Timestamp, Type.Null()], {
    description:
      'When the person opted out (a STOP word, or Twilio error 21610 on a send); null while opted in. ' +
      'Opted out, they get no reminder, notice or admin send until they send START; their photos still count.',
  }),
  opt_out_source: Type.Union([Type.Literal('keyword'), Type.Literal('twilio_21610'), Type.Null()], {
    description: '`keyword`: they sent a STOP word; `twilio_21610`: Twilio refused a send to them.',
  }),
});

export const TaskStatusSchema = Type.Union([
  Type.Literal('active'),
  Type.Literal('completed'),
  Type.Literal('expired'),
  Type.Literal('cancelled'),
  Type.Literal('pending_review'),
]);

export const ReminderSchema = Type.Object({
  kind: Type.Union([Type.Literal('reminder'), Type.Literal('expiry'), Type.Literal('assignment')], {
    description:
      '`reminder`: a stage of REMINDER_OFFSETS; `expiry`: the notice that the task expired; ' +
      '`assignment`: the notice that an admin gave the person the task (POST /tasks, unless `notify: false`).',
  }),
  offset_minutes: Type.Integer({ description: 'Minutes before the due time (0 for `expiry`).' }),
  send_at: Timestamp,
  status: Type.Union(
    [
      Type.Literal('pending'),
      Type.Literal('sent'),
      Type.Literal('skipped'),
      Type.Literal('cancelled'),
    ],
    { description: '`skipped` and `cancelled` say why in `reason`.' },
  ),
  channel: Type.Union(
    [Type.Literal('whatsapp'), Type.Literal('template'), Type.Literal('sms'), Type.Null()],
    {
      description:
        'How it was sent: free-form WhatsApp text, a WhatsApp Content template (outside the 24-hour window), or SMS.',
    },
  ),
  reason: Type.Union([Type.String(), Type.Null()]),
  outbound_message_id: Type.Union([Type.Integer(), Type.Null()], {
    description: 'The message in GET /outbound/{id}.',
  }),
  decided_at: NullableTimestamp,
});

export const TaskSchema = Type.Object({
  id: Type.Integer(),
  created_at: Timestamp,
  user_id: Type.Integer(),
  description: Type.String(),
  due_time: Timestamp,
  status: TaskStatusSchema,
  points: Type.Integer({ description: 'Points the user earns by completing the task.' }),
  completed_at: NullableTimestamp,
  expired_at: NullableTimestamp,
  habit_id: Type.Union([Type.Integer(), Type.Null()], {
    description:
      'The habit this task is an occurrence of (GET /habits/{id}); null for a one-off task.',
  }),
  group_id: Type.Union([Type.Integer(), Type.Null()], {
    description:
      'The group whose rules (review, sharing) apply to its proof (GET /groups/{id}); null only ' +
      'when that group was deleted.',
  }),
  reminders: Type.Array(ReminderSchema, {
    description: 'Its reminder stages and expiry notice, in send order.',
  }),
});

export const FeedItemSchema = Type.Object({
  id: Type.Integer(),
  created_at: Timestamp,
  user_id: Type.Integer(),
  username: Type.String(),
  task_id: Type.Union([Type.Integer(), Type.Null()]),
  task_description: Type.Union([Type.String(), Type.Null()]),
  image_url: Type.Union([Type.String(), Type.Null()], {
    description:
      'A URL a browser loads for the photo, made when answering (like storage_urls); null ' +
      'without a photo or when storage could not give one (see image_url_error).',
  }),
  image_url_error: Type.Union([Type.String(), Type.Null()], {
    description: 'Why image_url is null although the post has a photo, else null.',
  }),
  post_content: Type.Union([Type.String(), Type.Null()]),
  status: Type.String({ description: 'E.g. `published`.' }),
  group_id: Type.Union([Type.Integer(), Type.Null()], {
    description: "The group of the post's task (GET /feed?group_id= lists one group's posts).",
  }),
});

export const LeaderboardSchema = Type.Object({
  items: Type.Array(
    Type.Object({
      rank: Type.Integer({
        description: '1 for the most points; equal points share a rank (1, 1, 3).',
      }),
      user_id: Type.Integer(),
      username: Type.String(),
      points: Type.Integer(),
      current_streak: Type.Integer({
        description: 'The longest current streak among their active habits (0 without habits).',
      }),
      best_streak: Type.Integer({
        description: 'The best streak any of their habits reached (0 without habits).',
      }),
    }),
  ),
});
