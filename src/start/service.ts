import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import type { Database } from '../db/executor.js';
import { migrate, pendingMigrations } from '../db/migrate.js';
import { applyStatusCallback } from '../db/outbound.js';
import { buildApp } from '../http/app.js';
import { storageFilesRoutes } from '../http/routes/storage-files.js';
import { createInboundStore } from './inbound-store.js';
import { openDatabase } from './database.js';
import { createMetrics } from './metrics.js';
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

/**
 * The composition root of `taskwire serve`: opens the database (PGlite or Postgres),
 * migrates it, opens the bucket, builds the app with its concrete adapters, starts the
 * workers and listens. Every acquired resource pushes its release function; stopping runs
 * them in reverse.
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
    const opened = await openDatabase(config);
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
      inboundStore: metrics.countingDuplicates(inboundStore),
      onInboundStored: () => workers?.wake(),
      recordStatus: (update) => applyStatusCallback(db, update),
      store,
      pointsPerTask: config.pointsPerTask,
      signUrl: config.storage.public ? undefined : (key) => store.url(key),
      senders: { whatsapp: config.twilio.whatsappNumber, sms: config.twilio.phoneNumber },
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
      readiness: async () => {
        try {
          const pending = await pendingMigrations(db);
          return pending.length > 0 ? [`migrations not applied: ${pending.join(', ')}`] : [];
        } catch (error) {
          return [`database unreachable: ${(error as Error).message}`];
        }
      },
    });
    // Closing the app stops accepting connections and waits for in-flight requests. A
    // keep-alive connection whose response was still being written when closing began
    // turns idle only afterwards, and would hold the close open until its keep-alive
    // timeout: such connections are closed as soon as they go idle.
    releases.push(async () => {
      const closeIdle = setInterval(() => app.server.closeIdleConnections(), 100);
      try {
        await app.close();
      } finally {
        clearInterval(closeIdle);
      }
    });

    // Plugins load now, not inside listen(): loading them keeps the event loop busy for a
    // moment, and a job claimed before that would miss its lease heartbeats meanwhile.
    await app.ready();

    if (workers) {
      await workers.start();
      // Registered after the app: at shutdown the HTTP server stops first, then workers.
      releases.splice(releases.length - 1, 0, () => workers.stop(SHUTDOWN_GRACE_MS));
    }

    const address = await app.listen({ host: config.host, port: config.port });
    return { app, db, address, databaseDescription: opened.description, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
