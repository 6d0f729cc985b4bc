import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import type { Database } from '../db/executor.js';
import { migrate } from '../db/migrate.js';
import { applyStatusCallback } from '../db/outbound.js';
import { watchEventLoopLoad } from './event-loop-load.js';
import { createInboundStore } from './inbound-store.js';
import { databaseReadiness, openDatabase } from './database.js';
import { senderNumbers } from './send-now.js';
import { listenWhileStarting } from './starting-server.js';
import {
  createWorkers,
  describeDelivery,
  openBlobStore,
  openSimulatorMediaStore,
  simulatorApiBaseUrl,
} from './processing.js';

export interface RunningService {
  app: FastifyInstance;
  db: Database;
  /** The address the server listens on, e.g. http://127.0.0.1:8000. */
  address: string;
  databaseDescription: string;
  /** Stops in reverse order of start: HTTP, workers, pending writes, database. Safe to call twice. */
  stop(): Promise<void>;
}

type Release = () => Promise<void> | void;

/** How long running jobs may take to finish at shutdown before they are handed back. */
const SHUTDOWN_GRACE_MS = 10_000;
// How long a worker's claim waits at most for a burst of webhooks (see yieldTo), on
// Postgres: up to 5 claims a second of up to 8 × WORKER_CONCURRENCY messages each keep
// replies going at about the rate one process sustains (bench:loop), while most of the
// CPU still goes to acknowledging the burst (bench:ingest, BENCHMARKS.md). On PGlite every
// statement runs on this thread, and claims wait up to WORKER_POLL_MS.
const POSTGRES_MAX_HOLD_MS = 200;

/**
 * The composition root of `taskwire serve`: listens at once (only /health answers until
 * the rest is up), opens the database (PGlite or Postgres), migrates it, opens the bucket,
 * builds the app with its concrete adapters, starts the workers and hands the port to the
 * app. Resolves once all of it is done. Every acquired resource pushes its release
 * function; stopping runs them in reverse.
 */
export async function startService(config: Config, log: Logger): Promise<RunningService> {
  const releases: Release[] = [];
  const stop = async () => {
    while (releases.length > 0) {
      const release = releases.pop() as Release;
      try {
        await release();
      } catch (error) {
        log.error({ err: error }, 'error while stopping');
      }
    }
  };

  try {
    // Listening comes first: a platform's health check (and `npm start`) sees the process
    // up within a second, while the database opens, which takes seconds on PGlite.
    const server = await listenWhileStarting(config);
    releases.push(() => server.close());
    // Fastify, the routes, their schemas and prom-client take half a second to import:
    // loaded after the port is open, alongside the database.
    const modules = loadHttpModules();
    // Awaited below; marked handled now so a failure while the database opens is reported
    // there, not as an unhandled rejection.
    modules.catch(() => {});

    const opened = await openDatabase(config, log);
    releases.push(opened.release);
    const db = opened.db;

    const applied = await migrate(db);
    if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');

    const store = await openBlobStore(config);
    log.info(
      { driver: store.driver, bucket: store.bucket, public: config.storage.public },
      'storage ready',
    );

    const inboundStore = createInboundStore(db);
    releases.push(() => inboundStore.drain());

    const { buildApp, storageFilesRoutes, createMetrics } = await modules;
    const metrics = createMetrics(db);
    const workers = config.worker.inServe
      ? createWorkers(config, db, store, log, { observe: metrics.observeJob })
      : null;
    log.info({ outbox: !config.twilio.accountSid && !config.production }, describeDelivery(config));

    const app = await buildApp({
      db,
      apiToken: config.apiToken,
      twilioAuthToken: config.twilio.authToken,
      publicUrl: config.publicUrl,
      trustProxy: config.trustProxy,
      inboundStore: metrics.countingDuplicates(inboundStore),
      onInboundStored: () => workers?.wake(),
      recordStatus: (update) => applyStatusCallback(db, update),
      store,
      pointsPerTask: config.pointsPerTask,
      reminderOffsets: config.reminders.offsetsMinutes,
      defaultTimezone: config.defaultTimezone,
      signUrl: config.storage.public ? undefined : (key) => store.url(key),
      // The outbox falls back to the Sandbox number, as `taskwire send` does.
      senders: senderNumbers(config),
      publicRoutes:
        store.driver === 'local'
          ? async (scope) => {
              await scope.register(storageFilesRoutes, { store });
            }
          : undefined,
      logger: log,
      metrics,
      metricsToken: config.metricsToken,
      apiRateLimit: config.apiRateLimit,
      production: config.production,
      simulator: config.twilio.simulator
        ? {
            accountSid: config.twilio.simulator.accountSid,
            authToken: config.twilio.authToken,
            apiBaseUrl: simulatorApiBaseUrl(config),
            store: await openSimulatorMediaStore(config),
            maxBytes: config.media.maxBytes,
          }
        : undefined,
      readiness: () => databaseReadiness(db),
    });
    // Stopping closes the port and waits for in-flight requests; closing the app meanwhile
    // answers requests that still arrive on open keep-alive connections with 503 and
    // `Connection: close`. A keep-alive connection whose response was still being written
    // when closing began turns idle only afterwards, and would hold the close open until
    // its keep-alive timeout: server.close() closes such connections as they go idle.
    releases.push(async () => {
      const closed = server.close();
      await app.close();
      await closed;
    });

    // Plugins load now, before the workers start: loading them keeps the event loop busy
    // for a moment, and a job claimed before that would miss its lease heartbeats meanwhile.
    await app.ready();

    if (workers) {
      // The webhook is the hot path. When this process is short of CPU (its event loop
      // saturated) while it stores a burst of webhooks (BURST_PENDING of them waiting for
      // their commit), claims wait, each at most POSTGRES_MAX_HOLD_MS (PGlite:
      // WORKER_POLL_MS) after the previous one (see yieldTo): a burst is acked first, and on
      // Postgres the messages it brought are still taken, many per claim and answered
      // together, while it lasts. A steady stream is no burst: its messages are claimed as
      // they come (holding them for every webhook in flight tripled the reply time at
      // 100/s). A process merely waiting on a slow database is not saturated either.
      const maxHoldMs =
        db.engine === 'pglite'
          ? config.worker.pollMs
          : Math.min(config.worker.pollMs, POSTGRES_MAX_HOLD_MS);
      const load = watchEventLoopLoad();
      releases.push(async () => load.stop());
      for (const worker of [workers.inbound, workers.outbound]) {
        worker.yieldTo(() => load.saturated() && inboundStore.bursting(), { maxHoldMs });
      }
      await workers.start();
      // Registered after the app: at shutdown the HTTP server stops first, then workers.
      releases.splice(releases.length - 1, 0, () => workers.stop(SHUTDOWN_GRACE_MS));
    }

    server.serve(app);
    return { app, db, address: server.address, databaseDescription: opened.description, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The modules only the HTTP app needs; see startService. */
async function loadHttpModules() {
  const [app, storageFiles, metrics] = await Promise.all([
    import('../http/app.js'),
    import('../http/routes/storage-files.js'),
    import('./metrics.js'),
  ]);
  return {
    buildApp: app.buildApp,
    storageFilesRoutes: storageFiles.storageFilesRoutes,
    createMetrics: metrics.createMetrics,
  };
}
