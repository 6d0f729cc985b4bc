import { Type } from 'typebox';

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
  storage_urls: Type.Array(Type.String()),
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
      error: Type.Optional(Type.String()),
    }),
    { description: 'What became of each media item: stored under `key`, or `error`.' },
  ),
  raw: Type.Record(Type.String(), Type.Union([Type.String(), Type.Array(Type.String())]), {
    description: 'Every parameter Twilio posted.',
  }),
});

export const pageOf = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    total: Type.Integer(),
    limit: Type.Integer(),
    offset: Type.Integer(),
  });
