import { createHmac } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Database } from '../db/executor.js';
import { copyFromTwilio, inboundQueue, processInboundJob } from '../jobs/process-inbound.js';
import { type JobOutcome, type QueueWorker, createQueueWorker } from '../jobs/queue-worker.js';
import { createHabitOccurrenceJob } from '../jobs/habit-occurrences.js';
import { modelReviewJob, modelReviewQueue } from '../jobs/model-review.js';
import { createReviewTimeoutJob } from '../jobs/review-timeouts.js';
import { createOpenAiCompatibleJudge } from '../vision/openai-compatible.js';
import { createConversationFoldJob } from '../jobs/conversation-fold.js';
import { createGroupDigestJob } from '../jobs/group-digests.js';
import { type ReminderScheduler, createReminderScheduler } from '../jobs/reminder-scheduler.js';
import { outboundQueue, sendOutboundJob } from '../jobs/send-outbound.js';
import type { NoticeSettings } from '../services/task-notices.js';
import type { GroupNewsSettings } from '../services/group-news.js';
import type { BlobStore } from '../storage/adapter.js';
import { createBlobStore, type SelectedBlobStore } from '../storage/index.js';
import { LocalBlobStore } from '../storage/local/local-blob-store.js';
import { type TwilioMedia, createTwilioMedia } from '../twilio/media.js';
import { createOutboxSender } from '../twilio/outbox.js';
import { type SendMessage, createTwilioSender } from '../twilio/sender.js';
import { createNotifier } from './throttled-notify.js';

/** At most one NOTIFY of new replies per this many milliseconds from one process. */
const SENDER_NOTIFY_INTERVAL_MS = 100;

/** The bucket, by STORAGE_DRIVER; creates it when missing. */
export async function openBlobStore(config: Config): Promise<SelectedBlobStore> {
  const store = createBlobStore(config.storage, {
    dataDir: config.dataDir,
    // The local driver's URLs are relative (`/storage/...`) unless PUBLIC_URL is set: they
    // load wherever the dashboard is opened (127.0.0.1, localhost, a LAN address).
    baseUrl: config.publicUrl ?? '',
    // Derived, not configured: one secret fewer to manage; rotating API_TOKEN
    // invalidates the local driver's signed links, which expire anyway.
    signingSecret: createHmac('sha256', config.apiToken)
      .update('taskwire local storage links')
      .digest('hex'),
  });
  await store.ensureBucket();
  return store;
}

/**
 * Where the development simulator keeps uploaded photos until the service has copied them
 * into the bucket: DATA_DIR/simulator, apart from the bucket and never served by it.
 */
export async function openSimulatorMediaStore(config: Config): Promise<BlobStore> {
  const store = new LocalBlobStore({
    dataDir: path.join(config.dataDir, 'simulator'),
    bucket: 'uploads',
    baseUrl: localServiceUrl(config),
    public: true,
    signedUrlTtlSeconds: 3600,
    signingSecret: '',
  });
  await store.ensureBucket();
  return store;
}

/**
 * Where this process reaches the service itself on the loopback: HOST unless it is the
 * wildcard address, and PORT.
 */
export const localServiceUrl = (config: Config): string => {
  const host = ['0.0.0.0', '::', '[::]', ''].includes(config.host) ? '127.0.0.1' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
};

/**
 * The development simulator's stand-in for TWILIO_API_BASE_URL: the service's own
 * `/simulator` routes. Media URLs of simulated messages live under it, and the simulator
 * account's credentials are only ever sent there.
 */
export const simulatorApiBaseUrl = (config: Config): string =>
  `${localServiceUrl(config)}/simulator`;

/**
 * Twilio's media with the configured account; in development without one, the simulator
 * stands in for the URLs under it (see createTwilioMedia).
 */
export function twilioMedia(config: Config): TwilioMedia {
  return createTwilioMedia(
    {
      accountSid: config.twilio.accountSid ?? '',
      authToken: config.twilio.authToken,
      apiBaseUrl: config.twilio.apiBaseUrl,
      timeoutMs: config.media.timeoutMs,
      maxBytes: config.media.maxBytes,
      // Consulted only off the real Twilio; the simulator's own origin (its apiBaseUrl)
      // is always allowed, so `taskwire simulate` needs no entry.
      redirectAllowlist: config.media.redirectAllowlist,
    },
    config.twilio.simulator
      ? { accountSid: config.twilio.simulator.accountSid, apiBaseUrl: simulatorApiBaseUrl(config) }
      : null,
  );
}

/**
 * How outbound messages leave: through Twilio when TWILIO_ACCOUNT_SID is set; in
 * development without it, into the local outbox; in production without it, nowhere (each
 * message fails, saying what to configure).
 */
export function createSender(config: Config): SendMessage | null {
  if (config.twilio.accountSid) {
    return createTwilioSender({
      accountSid: config.twilio.accountSid,
      authToken: config.twilio.authToken,
      apiBaseUrl: config.twilio.apiBaseUrl,
      statusCallbackUrl: config.publicUrl ? `${config.publicUrl}/webhook/twilio/status` : null,
      maxSockets: sendConcurrency(config),
    });
  }
  return config.production ? null : createOutboxSender();
}

/**
 * Outbound messages one process sends at once: SEND_CONCURRENCY_FACTOR × WORKER_CONCURRENCY
 * (64 by default). A send spends nearly all its time waiting on Twilio's API (100–300 ms
 * from most places) and only a few short statements on the database, so with
 * WORKER_CONCURRENCY sends at once replies could leave no faster than 8 per Twilio round
 * trip (~40/s) while inbound processing, CPU- and database-bound, keeps up with far more.
 * Twilio's own limit is per account (its API answers 429 beyond it; retried).
 */
export const SEND_CONCURRENCY_FACTOR = 8;
export const sendConcurrency = (config: Config): number =>
  Math.min(config.worker.concurrency * SEND_CONCURRENCY_FACTOR, 256);

/**
 * Inbound messages one process takes at a time: INBOUND_TEXT_FACTOR × WORKER_CONCURRENCY
 * (64 by default), of which WORKER_CONCURRENCY at most with media are copied and checked
 * at once. A photo holds its slot for a download, an upload and the proof check; a text
 * needs a few statements, and the texts taken together are answered together
 * (src/jobs/process-inbound.ts), so the more are taken at once the less each costs.
 */
export const INBOUND_TEXT_FACTOR = 8;
export const inboundConcurrency = (config: Config): number =>
  Math.min(config.worker.concurrency * INBOUND_TEXT_FACTOR, 256);

/** One line for the start-up log and the banner: where replies go. */
export function describeDelivery(config: Config): string {
  if (config.twilio.accountSid)
    return `replies are sent through Twilio (${config.twilio.apiBaseUrl})`;
  if (config.production) {
    return 'TWILIO_ACCOUNT_SID is not set: replies cannot be sent and are marked failed';
  }
  return 'TWILIO_ACCOUNT_SID is not set: replies go to the local outbox (GET /outbound), not to Twilio';
}

/** Who reminders and expiry notices come from and how, from the configuration. */
export const noticeSettings = (config: Config): NoticeSettings => ({
  offsets: config.reminders.offsetsMinutes,
  defaultTimezone: config.defaultTimezone,
  whatsappNumber: config.twilio.whatsappNumber,
  smsNumber: config.twilio.phoneNumber,
  contentSid: config.reminders.contentSid,
  smsFallback: config.reminders.smsFallback,
  buttonsContentSid: config.reminders.buttonsContentSid,
  taskNoticeContentSid: config.reminders.taskNoticeContentSid,
});

/**
 * How proofs are shared with the group and digests sent, from the configuration. The photo
 * goes with a share only where Twilio can fetch it: a public bucket, or the local driver's
 * links on PUBLIC_URL (relative links otherwise, and a private remote bucket's signed URLs
 * may need a network call inside the proof's transaction).
 */
export const groupNewsSettings = (config: Config, store: BlobStore): GroupNewsSettings => ({
  defaultTimezone: config.defaultTimezone,
  whatsappNumber: config.twilio.whatsappNumber,
  digestHour: config.digests.hour,
  digestContentSid: config.digests.contentSid,
  photoUrl:
    config.storage.public || (config.storage.driver === 'local' && config.publicUrl)
      ? (key: string) => store.url(key)
      : null,
});

export interface Workers {
  inbound: QueueWorker;
  outbound: QueueWorker;
  reminders: ReminderScheduler;
  start(): Promise<void>;
  wake(): void;
  stop(graceMs: number): Promise<void>;
}

/** The inbound-processing and outbound-sending workers of one process. */
export function createWorkers(
  config: Config,
  db: Database,
  store: BlobStore,
  log: Logger,
  options: { observe?: (event: JobOutcome) => void } = {},
): Workers {
  const workerLog = log.child({ component: 'worker' });
  const workerOptions = { ...config.worker, log: workerLog, observe: options.observe };
  const media = twilioMedia(config);

  const inbound = createQueueWorker(
    db,
    inboundQueue,
    processInboundJob({
      db,
      copyMedia: copyFromTwilio(media, store),
      deleteTwilioMedia: config.twilio.deleteMedia
        ? async (item) => void (await media.delete(item.url))
        : undefined,
      accountability: {
        autoRegister: config.autoRegister,
        proofDuplicateDistance: config.proofDuplicateDistance,
        defaultTimezone: config.defaultTimezone,
        reminderOffsets: config.reminders.offsetsMinutes,
        pointsPerTask: config.pointsPerTask,
        pauseMaxDaysPer30: config.pauseMaxDaysPer30,
        appBaseUrl: config.publicUrl ?? localServiceUrl(config),
        review: {
          timeoutMs: config.review.timeoutMs,
          modelConfigured: config.review.model !== null,
        },
        groupNews: groupNewsSettings(config, store),
      },
      mediaConcurrency: config.worker.concurrency,
      repliesQueued: () => {
        outbound.wake();
        // The embedded database has one process: nobody else to tell.
        if (db.engine === 'postgres') senderNotifier.notify();
      },
      log: workerLog,
    }),
    { ...workerOptions, concurrency: inboundConcurrency(config) },
  );
  // Replies are announced after their commit: this process's sender is woken at once, the
  // other instances' by a NOTIFY at most every SENDER_NOTIFY_INTERVAL_MS (see createNotifier).
  const senderNotifier = createNotifier(() => outboundQueue.notify(db), SENDER_NOTIFY_INTERVAL_MS);

  const send = createSender(config);
  const outbound = createQueueWorker(
    db,
    outboundQueue,
    sendOutboundJob({
      db,
      send,
      notices: noticeSettings(config),
      digestContentSid: config.digests.contentSid,
    }),
    { ...workerOptions, concurrency: sendConcurrency(config) },
  );

  const reminders = createReminderScheduler(db, noticeSettings(config), {
    pollMs: config.worker.pollMs,
    log: workerLog,
    startupRetryMs: config.databaseConnectTimeoutMs,
  });

  // Review by a vision model (review: model groups), outside the processing transaction.
  const model = config.review.model;
  const modelReviews = createQueueWorker(
    db,
    modelReviewQueue,
    modelReviewJob({
      db,
      store,
      judge: model
        ? createOpenAiCompatibleJudge({
            url: model.url,
            model: model.model,
            key: model.key,
            timeoutMs: model.timeoutMs,
          })
        : null,
      minConfidence: model?.minConfidence ?? 0.8,
      settings: {
        timeoutMs: config.review.timeoutMs,
        defaultTimezone: config.defaultTimezone,
        groupNews: groupNewsSettings(config, store),
      },
    }),
    workerOptions,
  );
  // Proofs nobody reviewed within REVIEW_TIMEOUT are approved (src/jobs/review-timeouts.ts).
  const reviewTimeouts = createReviewTimeoutJob(db, {
    pollMs: config.worker.pollMs,
    log: workerLog,
    defaultTimezone: config.defaultTimezone,
    groupNews: groupNewsSettings(config, store),
  });

  // Habit occurrences become tasks as their local day starts (src/jobs/habit-occurrences.ts).
  const habits = createHabitOccurrenceJob(db, {
    pollMs: config.worker.pollMs,
    log: workerLog,
    offsets: config.reminders.offsetsMinutes,
  });

  // Daily share digests and the Sunday digest, at each group's evening hour.
  const digests = createGroupDigestJob(db, {
    pollMs: Math.max(config.worker.pollMs, 1000),
    log: workerLog,
    settings: groupNewsSettings(config, store),
  });

  // The inbox's summaries, folded now and then when nobody reads it (src/jobs/conversation-fold.ts).
  const conversationFold = createConversationFoldJob(db, { pollMs: 30_000, log: workerLog });

  return {
    inbound,
    outbound,
    reminders,
    async start() {
      await inbound.start();
      await outbound.start();
      await reminders.start();
      habits.start();
      await modelReviews.start();
      reviewTimeouts.start();
      digests.start();
      conversationFold.start();
    },
    wake() {
      inbound.wake();
    },
    async stop(graceMs) {
      await Promise.all([
        inbound.stop(graceMs),
        outbound.stop(graceMs),
        reminders.stop(),
        habits.stop(),
        modelReviews.stop(graceMs),
        reviewTimeouts.stop(),
        digests.stop(),
        conversationFold.stop(),
      ]);
      // The last replies' NOTIFY, if one is still due: another instance may send them.
      await senderNotifier.flush();
    },
  };
}
