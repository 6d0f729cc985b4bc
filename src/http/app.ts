import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import type { Queryable } from '../db/executor.js';
import { type LiveEvents, createLiveEvents } from '../services/live-events.js';
import { errorBody, validationFailed } from '../domain/errors.js';
import { DEFAULT_POINTS_PER_TASK } from '../domain/task.js';
import type { InboundMessageStore } from '../services/receive-inbound.js';
import type { SenderNumbers } from '../services/send-message.js';
import type { BlobStore } from '../storage/adapter.js';
import { requireBearerToken } from './plugins/bearer-auth.js';
import { serveDashboard } from './plugins/dashboard.js';
import { serveParticipantApp } from './plugins/participant-app.js';
import { registerErrorHandler } from './plugins/error-handler.js';
import { registerOpenApi } from './plugins/openapi.js';
import { rejectNulInput } from './plugins/reject-nul.js';
import { echoRequestId, requestIdFor } from './plugins/request-id.js';
import { registerSecurity } from './plugins/security.js';
import { conversationsRoutes } from './routes/conversations.js';
import { eventsRoutes, eventsTokenRoutes } from './routes/events.js';
import { feedRoutes } from './routes/feed.js';
import { groupsRoutes } from './routes/groups.js';
import { habitsRoutes } from './routes/habits.js';
import { healthRoutes } from './routes/health.js';
import { leaderboardRoutes } from './routes/leaderboard.js';
import { reviewRoutes } from './routes/reviews.js';
import { messageMediaRoutes } from './routes/message-media.js';
import { messageReprocessRoutes } from './routes/message-reprocess.js';
import { messagesRoutes } from './routes/messages.js';
import { type AppMetrics, metricsRoutes, observeWebhooks } from './routes/metrics.js';
import { outboundRoutes } from './routes/outbound.js';
import { participantEventsRoutes } from './routes/participant-events.js';
import { participantRoutes } from './routes/participant.js';
import { signInLinkRoutes } from './routes/sign-in-link.js';
import { signInRoutes } from './routes/sign-in.js';
import { type SimulatorRoutesOptions, simulatorRoutes } from './routes/simulator.js';
import { tasksRoutes } from './routes/tasks.js';
import { DEFAULT_REMINDER_OFFSETS } from '../domain/reminder.js';
import { type StatusUpdate, twilioWebhookRoutes } from './routes/twilio-webhook.js';
import { userDeletionRoutes } from './routes/user-deletion.js';
import { usersRoutes } from './routes/users.js';

export interface AppDeps {
  db: Queryable;
  apiToken: string;
  twilioAuthToken: string;
  /** See PUBLIC_URL: the base URL Twilio signs. */
  publicUrl: string | null;
  /** TRUST_PROXY: the proxies whose X-Forwarded-* headers count (default: none). */
  trustProxy?: false | number | readonly string[];
  inboundStore: InboundMessageStore;
  /** Told about each newly stored or re-queued message (wakes this process's worker). */
  onInboundStored?: (id: number) => void;
  /** Records a delivery status callback (POST /webhook/twilio/status). */
  recordStatus?: (update: StatusUpdate) => Promise<unknown>;
  /** TWILIO_WHATSAPP_NUMBER / TWILIO_PHONE_NUMBER, for POST /messages/send. */
  senders?: SenderNumbers;
  /**
   * Turns an object key into the URL the API answers (storage_urls, the feed's image_url):
   * signed and expiring for a private bucket. Default: `store.url(key)`.
   */
  signUrl?: (key: string) => Promise<string>;
  /** The bucket the photos are kept in. */
  store: BlobStore;
  /** Points of a task created without `points` (default 10). */
  pointsPerTask?: number;
  /** REMINDER_OFFSETS (default 60, 15 minutes). */
  reminderOffsets?: readonly number[];
  /** The current time for scheduling reminders (tests inject one; default the system clock). */
  clock?: () => Date;
  /** TZ: the zone of a person with none of their own (GET /users, POST /habits; default UTC). */
  defaultTimezone?: string;
  /** Extra routes that need no API token (e.g. local storage files). */
  publicRoutes?: (app: FastifyInstance) => Promise<void>;
  /** Problems that make the service unready (database down, migrations missing). */
  readiness?: () => Promise<string[]>;
  logger?: FastifyBaseLogger;
  /** GET /metrics and the webhook counters; without it there is no /metrics route. */
  metrics?: AppMetrics;
  /** METRICS_TOKEN: accepted by GET /metrics besides the API token. */
  metricsToken?: string | null;
  /** API_RATE_LIMIT: admin requests per minute from one address (default 1000; 0 = off). */
  apiRateLimit?: number;
  /** NODE_ENV=production (stricter Content-Security-Policy: no plain-http images). */
  production?: boolean;
  /** Development without TWILIO_ACCOUNT_SID: the Twilio media stand-in for `taskwire simulate`. */
  simulator?: Omit<SimulatorRoutesOptions, 'apiToken' | 'guard'>;
  /**
   * The live events of GET /events (and the participant app's stream). Default: one made
   * from `db` when a stream first opens, listening when `db` can, closed with the app.
   */
  liveEvents?: LiveEvents;
  /** The SSE heartbeat (default 15 s). */
  liveHeartbeatMs?: number;
}

/** The webhook's body limit: Twilio's posts are a few KiB. */
const BODY_LIMIT = 1024 * 1024;

/**
 * TRUST_PROXY as Fastify takes it. Fastify 5.12 ignores a bare hop count (it cannot check
 * the immediate peer), so a count becomes the function proxy-addr used to build from it:
 * trust the nearest `hops` addresses. That is right where the port is reachable only
 * through the proxy (Railway); elsewhere TRUST_PROXY should list the proxies' addresses.
 */
function trustProxyOption(
  trust: false | number | readonly string[],
): false | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return trust === false ? false : [...trust];
}

/**
 * Builds the HTTP application without listening, so tests use `app.inject()` and the
 * process in start/ decides where to listen.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true },
    // Our own onResponse hook logs one line per request, without query strings.
    logController: new LogController({ disableRequestLogging: true }),
    // Only a configured proxy's X-Forwarded-For/-Proto/-Host count (request.ip, .protocol,
    // .host): from anyone else they would choose the address rate limits and lockouts key
    // on, and the URL a webhook signature is checked against.
    trustProxy: trustProxyOption(deps.trustProxy ?? false),
    // A UUID per request (or the proxy's X-Request-Id): the `reqId` of its log lines.
    genReqId: requestIdFor,
    // Errors raised before routing (a malformed URL such as `/messages/%zz`) get the same
    // error body as everything else.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      void reply.status(400).send(errorBody(validationFailed(error.message)));
    },
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, useDefaults: true } },
  });
  registerErrorHandler(app);
  echoRequestId(app);
  // Security headers and rate limiting, before any route is added.
  const guard = await registerSecurity(app, {
    apiRateLimit: deps.apiRateLimit ?? 1000,
    allowHttpImages: deps.production !== true,
  });
  if (deps.metrics) observeWebhooks(app, deps.metrics);

  // One access-log line per request, after the answer; query strings are left out of
  // logs because they can carry phone numbers (`?from_number=`).
  app.addHook('onResponse', async (request, reply) => {
    const level = reply.statusCode >= 500 ? 'error' : 'info';
    request.log[level](
      {
        method: request.method,
        path: request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  // Before the routes: the OpenAPI generator learns them as they are added.
  await registerOpenApi(app);
  await serveDashboard(app);
  await serveParticipantApp(app);

  await app.register(healthRoutes, {
    readiness: deps.readiness ?? (async () => []),
  });

  await app.register(twilioWebhookRoutes, {
    authToken: deps.twilioAuthToken,
    publicUrl: deps.publicUrl,
    receive: { store: deps.inboundStore, onStored: deps.onInboundStored },
    recordStatus: deps.recordStatus,
  });

  if (deps.publicRoutes) await app.register(deps.publicRoutes);

  // The participant app (issue 17): signed in by a magic link, then by its session cookie
  // only; the API token counts for nothing there.
  await app.register(async (participant) => {
    rejectNulInput(participant);
    const clock = deps.clock ?? (() => new Date());
    await participant.register(signInRoutes, { db: deps.db, clock });
    await participant.register(participantRoutes, {
      db: deps.db,
      store: deps.store,
      clock,
      defaultTimezone: deps.defaultTimezone ?? 'UTC',
      pointsPerTask: deps.pointsPerTask ?? DEFAULT_POINTS_PER_TASK,
      reminderOffsets: deps.reminderOffsets ?? DEFAULT_REMINDER_OFFSETS,
      senders: deps.senders ?? { whatsapp: null, sms: null },
      publicUrl: deps.publicUrl,
    });
  });

  // Live events: one hub per app, streams ended before the server closes (they never end
  // by themselves, and an open one would hold the shutdown).
  const liveHub = deps.liveEvents ?? createLiveEvents({ db: deps.db });
  const openStreams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...openStreams]) end();
  });
  if (!deps.liveEvents) app.addHook('onClose', async () => liveHub.close());
  const live = {
    hub: liveHub,
    apiToken: deps.apiToken,
    heartbeatMs: deps.liveHeartbeatMs ?? 15_000,
    open: openStreams,
    clock: () => new Date(),
  };
  await app.register(async (scope) => {
    guard.protect(scope);
    await scope.register(eventsRoutes, live);
  });
  // The participant app's stream: the session decides what it carries.
  await app.register(participantEventsRoutes, {
    ...live,
    db: deps.db,
    clock: deps.clock ?? (() => new Date()),
  });

  // Everything below holds people's data and requires the API token.
  await app.register(async (admin) => {
    guard.protect(admin);
    requireBearerToken(admin, deps.apiToken);
    rejectNulInput(admin);
    // URLs are built from keys when answering, never read back from rows (storage-urls.ts).
    const objectUrl = deps.signUrl ?? ((key: string) => deps.store.url(key));
    await admin.register(messagesRoutes, { db: deps.db, objectUrl });
    await admin.register(usersRoutes, {
      db: deps.db,
      clock: deps.clock ?? (() => new Date()),
      defaultTimezone: deps.defaultTimezone ?? 'UTC',
    });
    await admin.register(habitsRoutes, {
      db: deps.db,
      clock: deps.clock ?? (() => new Date()),
      defaultTimezone: deps.defaultTimezone ?? 'UTC',
      pointsPerTask: deps.pointsPerTask ?? DEFAULT_POINTS_PER_TASK,
      reminderOffsets: deps.reminderOffsets ?? DEFAULT_REMINDER_OFFSETS,
    });
    await admin.register(tasksRoutes, {
      db: deps.db,
      pointsPerTask: deps.pointsPerTask ?? DEFAULT_POINTS_PER_TASK,
      reminderOffsets: deps.reminderOffsets ?? DEFAULT_REMINDER_OFFSETS,
      clock: deps.clock ?? (() => new Date()),
    });
    await admin.register(feedRoutes, { db: deps.db, objectUrl });
    await admin.register(groupsRoutes, {
      db: deps.db,
      whatsappNumber: deps.senders?.whatsapp ?? null,
    });
    await admin.register(reviewRoutes, {
      db: deps.db,
      objectUrl,
      clock: deps.clock ?? (() => new Date()),
      defaultTimezone: deps.defaultTimezone ?? 'UTC',
    });
    await admin.register(leaderboardRoutes, {
      db: deps.db,
      clock: deps.clock ?? (() => new Date()),
      defaultTimezone: deps.defaultTimezone ?? 'UTC',
    });
    await admin.register(messageMediaRoutes, { db: deps.db, store: deps.store });
    await admin.register(eventsTokenRoutes, live);
    await admin.register(conversationsRoutes, {
      db: deps.db,
      clock: deps.clock ?? (() => new Date()),
    });
    await admin.register(userDeletionRoutes, {
      db: deps.db,
      store: deps.store,
      clock: deps.clock ?? (() => new Date()),
      defaultTimezone: deps.defaultTimezone ?? 'UTC',
      pointsPerTask: deps.pointsPerTask ?? DEFAULT_POINTS_PER_TASK,
      reminderOffsets: deps.reminderOffsets ?? DEFAULT_REMINDER_OFFSETS,
      senders: deps.senders ?? { whatsapp: null, sms: null },
    });
    await admin.register(outboundRoutes, {
      db: deps.db,
      senders: deps.senders ?? { whatsapp: null, sms: null },
    });
    await admin.register(signInLinkRoutes, {
      db: deps.db,
      senders: deps.senders ?? { whatsapp: null, sms: null },
      publicUrl: deps.publicUrl,
      clock: deps.clock ?? (() => new Date()),
    });
    await admin.register(messageReprocessRoutes, {
      db: deps.db,
      objectUrl,
      onQueued: deps.onInboundStored,
    });
  });

  if (deps.metrics) {
    await app.register(metricsRoutes, {
      metrics: deps.metrics,
      tokens: [deps.apiToken, ...(deps.metricsToken ? [deps.metricsToken] : [])],
      guard,
    });
  }
  if (deps.simulator) {
    await app.register(simulatorRoutes, { ...deps.simulator, apiToken: deps.apiToken, guard });
  }

  return app;
}
