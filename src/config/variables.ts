/**
 * Every environment variable Taskwire reads, with its default and meaning. This table
 * is the single source for validation, for `taskwire config` and for docs/configuration.md
 * (`npm run docs:config` writes it; test/docs.test.ts fails while it differs).
 */
export interface VariableSpec {
  name: string;
  default: string | null;
  description: string;
}

export const variables: readonly VariableSpec[] = [
  {
    name: 'NODE_ENV',
    default: 'development',
    description: '`production` requires real secrets instead of generating them.',
  },
  { name: 'HOST', default: '0.0.0.0', description: 'Interface the HTTP server listens on.' },
  { name: 'PORT', default: '8000', description: 'Port the HTTP server listens on.' },
  {
    name: 'DATA_DIR',
    default: './data',
    description:
      'Folder for the embedded database, local storage and generated development secrets.',
  },
  {
    name: 'DATABASE_URL',
    default: null,
    description:
      "Postgres connection string (Supabase: the project's connection string). Unset: embedded PGlite in `DATA_DIR/pglite`.",
  },
  {
    name: 'DATABASE_POOL_SIZE',
    default: '10',
    description: 'Connections per process when `DATABASE_URL` is set.',
  },
  {
    name: 'DATABASE_CONNECT_TIMEOUT_MS',
    default: '30000',
    description:
      'How long start-up keeps retrying a Postgres server that is not reachable yet (refused, starting up) before it exits with one line saying what to check. An unknown database or a wrong password is reported at once.',
  },
  {
    name: 'API_TOKEN',
    default: null,
    description:
      'Bearer token for every admin route. Development: generated once into `DATA_DIR` and printed at start-up. Required in production.',
  },
  {
    name: 'METRICS_TOKEN',
    default: null,
    description:
      'Bearer token accepted by `GET /metrics` only, for a Prometheus scraper that should not hold the API token (`API_TOKEN` works there too).',
  },
  {
    name: 'API_RATE_LIMIT',
    default: '1000',
    description:
      'Requests per minute one client address may make to the admin API; `0` turns the limit off. The Twilio webhooks are never limited.',
  },
  {
    name: 'PUBLIC_URL',
    default: null,
    description:
      'Public base URL Twilio calls (e.g. `https://taskwire.up.railway.app`). Signatures are checked against it; unset: against the URL the request arrived at (honouring `X-Forwarded-Proto`/`X-Forwarded-Host` from a trusted proxy only, see `TRUST_PROXY`).',
  },
  {
    name: 'TRUST_PROXY',
    default: null,
    description:
      'Which proxies in front of the service to believe about the client: a hop count (`1` on Railway) or a comma-separated list of proxy addresses/CIDRs (`10.0.0.0/8,127.0.0.1`). Only then do `X-Forwarded-For` (client address for rate limits and lockouts) and `X-Forwarded-Proto`/`-Host` (the signed URL) count. Unset: off, the socket address is the client.',
  },
  {
    name: 'LOG_LEVEL',
    default: 'info',
    description: 'One of `fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`.',
  },
  {
    name: 'TWILIO_ACCOUNT_SID',
    default: null,
    description:
      'Your Twilio Account SID (`AC...`). Used for media downloads and replies. Unset in development: replies go to the local outbox (`GET /outbound`) and `taskwire simulate` stands in for Twilio.',
  },
  {
    name: 'TWILIO_AUTH_TOKEN',
    default: null,
    description:
      'Your Twilio Auth Token: verifies webhook signatures and authenticates calls to Twilio. Development: generated if unset. Required in production.',
  },
  {
    name: 'TWILIO_PHONE_NUMBER',
    default: null,
    description: 'Your Twilio number for SMS, E.164 (`+15551234567`).',
  },
  {
    name: 'TWILIO_WHATSAPP_NUMBER',
    default: null,
    description: 'Your WhatsApp sender, E.164 with or without `whatsapp:`.',
  },
  {
    name: 'TWILIO_API_BASE_URL',
    default: 'https://api.twilio.com',
    description: 'Twilio REST API origin. Credentials are only ever sent to this origin.',
  },
  {
    name: 'TWILIO_DELETE_MEDIA',
    default: 'false',
    description: '`true`: delete the media at Twilio once it is stored in our bucket.',
  },
  {
    name: 'SUPABASE_URL',
    default: null,
    description:
      'Supabase project URL (`https://<ref>.supabase.co`; a URL ending in `/storage/v1` is taken as it is). Selects the `supabase` storage driver by default.',
  },
  { name: 'SUPABASE_KEY', default: null, description: 'Supabase service-role key, for Storage.' },
  {
    name: 'SUPABASE_BUCKET',
    default: 'notes',
    description: 'Bucket that keeps the photos (all drivers).',
  },
  {
    name: 'STORAGE_DRIVER',
    default: null,
    description:
      '`local`, `supabase` or `s3`. Default: `supabase` when `SUPABASE_URL` is set, else `local`.',
  },
  {
    name: 'STORAGE_PUBLIC',
    default: 'true',
    description: '`false` for a private bucket: the API then answers with signed, expiring URLs.',
  },
  {
    name: 'STORAGE_SIGNED_URL_TTL',
    default: '3600',
    description: 'Lifetime in seconds of signed URLs for a private bucket.',
  },
  {
    name: 'STORAGE_TIMEOUT_MS',
    default: '30000',
    description:
      'Time limit for one call to Supabase Storage or S3 (an upload counts while its body streams in); a timed-out call is retried like a failed download.',
  },
  {
    name: 'S3_ENDPOINT',
    default: null,
    description: 'S3 endpoint (R2, MinIO, Supabase S3). Unset: AWS.',
  },
  {
    name: 'S3_BUCKET',
    default: null,
    description: 'S3 bucket. Default: `SUPABASE_BUCKET` (`notes`).',
  },
  { name: 'S3_REGION', default: 'us-east-1', description: 'S3 region.' },
  {
    name: 'S3_PUBLIC_URL',
    default: null,
    description:
      "Base URL under which the bucket's objects are publicly readable. Unset: `S3_ENDPOINT/S3_BUCKET`.",
  },
  { name: 'AWS_ACCESS_KEY_ID', default: null, description: 'S3 access key.' },
  { name: 'AWS_SECRET_ACCESS_KEY', default: null, description: 'S3 secret key.' },
  {
    name: 'MEDIA_MAX_BYTES',
    default: '16777216',
    description:
      "Largest media item accepted (16 MiB, WhatsApp's limit); larger items fail cleanly.",
  },
  {
    name: 'MEDIA_TIMEOUT_MS',
    default: '30000',
    description: 'Time limit for downloading one media item.',
  },
  {
    name: 'MEDIA_REDIRECT_ALLOWLIST',
    default: null,
    description:
      'Only with a non-default `TWILIO_API_BASE_URL` (a local stand-in, tests): the origins (`http://127.0.0.1:9000`), `host:port`s or hosts (any port) media redirects may go to, comma-separated. Unset: only within the `TWILIO_API_BASE_URL` origin. Against the real Twilio this is ignored: redirects go only to `https` hosts with public addresses.',
  },
  {
    name: 'AUTO_REGISTER',
    default: 'true',
    description:
      'Unknown senders become users, named after their WhatsApp profile, and are greeted. `false`: they are told to ask an admin.',
  },
  {
    name: 'POINTS_PER_TASK',
    default: '10',
    description: 'Points a task is worth when `POST /tasks` does not say.',
  },
  {
    name: 'TZ',
    default: 'UTC',
    description:
      'Time zone (IANA name such as `Europe/Paris`) for due times of users without their own `timezone`.',
  },
  {
    name: 'REMINDER_OFFSETS',
    default: '60,15',
    description:
      'Minutes before `due_time` at which an active task is reminded, each more urgent; empty: no reminders.',
  },
  {
    name: 'REMINDER_CONTENT_SID',
    default: null,
    description:
      "Twilio Content template (`HX...`) for reminders outside WhatsApp's 24-hour window; variables `1` task, `2` due time.",
  },
  {
    name: 'REMINDER_BUTTONS_CONTENT_SID',
    default: null,
    description:
      'Twilio quick-reply Content template (`HX...`) sent as reminders inside the 24-hour window, with buttons whose payloads are commands (`pause today`, `tasks`); variables `1` task, `2` due time.',
  },
  {
    name: 'TASK_NOTICE_CONTENT_SID',
    default: null,
    description:
      "Twilio Content template (`HX...`) telling a person outside WhatsApp's 24-hour window that an admin gave them a task; variables `1` task, `2` due time.",
  },
  {
    name: 'REMINDER_SMS_FALLBACK',
    default: 'false',
    description:
      'Outside the 24-hour window and without a template, remind by SMS from `TWILIO_PHONE_NUMBER`; else the reminder is skipped.',
  },
  {
    name: 'SHARE_DIGEST_HOUR',
    default: '19',
    description:
      "Hour (0–23, in each group's time zone) of the daily digest of proofs shared with a group and of the Sunday digest of the week, for groups without their own `digest_hour`.",
  },
  {
    name: 'DIGEST_CONTENT_SID',
    default: null,
    description:
      "Twilio Content template (`HX...`) for a group's daily share digest and the Sunday digest outside WhatsApp's 24-hour window; variables `1` group name, `2` the digest on one line. Unset: those digests are skipped with the reason.",
  },
  {
    name: 'PAUSE_MAX_DAYS_PER_30',
    default: '14',
    description:
      'Most paused days (`pause 3 days`, `pause until friday`) a person may have in any 30 days; a pause beyond it is refused.',
  },
  {
    name: 'PROOF_DUPLICATE_DISTANCE',
    default: '6',
    description:
      'Largest difference-hash distance (0–64 bits) at which a photo counts as a copy of an earlier proof; `0` checks exact bytes only.',
  },
  {
    name: 'REVIEW_TIMEOUT',
    default: '12h',
    description:
      'How long a proof waits for a peer review (`review: peer` or `model` groups) before it is approved anyway: a number and `s`, `m`, `h` or `d` (`12h`, `90m`).',
  },
  {
    name: 'PROOF_MODEL_URL',
    default: null,
    description:
      'OpenAI-compatible chat-completions endpoint with vision for `review: model` groups (`https://api.openai.com/v1`; Ollama, vLLM, LM Studio: their `/v1`). Unset: those groups are reviewed by peers.',
  },
  {
    name: 'PROOF_MODEL',
    default: 'gpt-4o-mini',
    description: 'The vision model `PROOF_MODEL_URL` is asked for.',
  },
  {
    name: 'PROOF_MODEL_KEY',
    default: null,
    description:
      'Bearer key for `PROOF_MODEL_URL` (none for a local server that wants none). Never logged.',
  },
  {
    name: 'PROOF_MODEL_TIMEOUT_MS',
    default: '20000',
    description:
      'Longest wait for one answer of the model; a timeout or 5xx is retried once, then the proof goes to peer review.',
  },
  {
    name: 'PROOF_MODEL_CONFIDENCE',
    default: '0.8',
    description:
      "Confidence (0–1) from which the model's verdict decides: a match approves, a mismatch rejects; below it, peers review.",
  },
  {
    name: 'RUN_WORKERS',
    default: 'true',
    description:
      'Process messages inside `taskwire serve`. Set `false` on web-only instances when separate `taskwire worker` processes do the work (Postgres only).',
  },
  {
    name: 'WORKER_CONCURRENCY',
    default: '8',
    description:
      'Messages with media (photos) one process copies and checks at once: a photo waits mostly on its download and upload, so 8 keep 2 cores busy (with 4, photos queued from 40/s on). It takes 8× as many messages at a time (texts need only the database; those taken together are answered together) and sends 8× as many replies at once.',
  },
  {
    name: 'WORKER_MAX_ATTEMPTS',
    default: '5',
    description: 'Processing attempts before a message is marked failed.',
  },
  {
    name: 'WORKER_BACKOFF_MS',
    default: '40000',
    description:
      'First retry delay; doubles on every attempt (40 s, 80 s, 160 s, 320 s: about 10 minutes over 5 attempts).',
  },
  {
    name: 'WORKER_POLL_MS',
    default: '1000',
    description: 'How often an idle worker looks for due work it was not woken for.',
  },
  {
    name: 'WORKER_LEASE_MS',
    default: '30000',
    description:
      "How long a claim lasts unless renewed (every third of it while the job runs); on Postgres a crashed worker's message is claimed again after at most this long. The embedded database releases every claim at start.",
  },
  {
    name: 'WORKER_PORT',
    default: null,
    description:
      'Port on which `taskwire worker` serves `GET /health`, `/ready` and `/metrics` (token: `METRICS_TOKEN` or `API_TOKEN`), on `HOST`. Unset: the worker opens no port.',
  },
];
