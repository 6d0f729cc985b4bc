import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import type { Database } from '../db/executor.js';
import { migrate, pendingMigrations } from '../db/migrate.js';
import { buildApp } from '../http/app.js';
import { createInboundStore } from './inbound-store.js';
import { openDatabase } from './database.js';

export interface RunningService {
  app: FastifyInstance;
  db: Database;
  /** The address the server listens on, e.g. http://127.0.0.1:8000. */
  address: string;
  databaseDescription: string;
  /** Stops in reverse order of start: HTTP, pending writes, database. Safe to call twice. */
  stop(): Promise<void>;
}

type Release = () => Promise<void> | void;

/**
 * The composition root of `taskwire serve`: opens the database (PGlite or Postgres),
 * migrates it, builds the app with its concrete adapters and listens. Every acquired
 * resource pushes its release function; stopping runs them in reverse.
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

    const inboundStore = createInboundStore(db);
    releases.push(() => inboundStore.drain());

    const app = await buildApp({
      db,
      apiToken: config.apiToken,
      twilioAuthToken: config.twilio.authToken,
      publicUrl: config.publicUrl,
      inboundStore,
      logger: log,
      readiness: async () => {
        try {
          const pending = await pendingMigrations(db);
          return pending.length > 0 ? [`migrations not applied: ${pending.join(', ')}`] : [];
        } catch (error) {
          return [`database unreachable: ${(error as Error).message}`];
        }
      },
    });
    // Closing the app stops accepting connections and waits for in-flight requests.
    releases.push(() => app.close());

    const address = await app.listen({ host: config.host, port: config.port });
    return { app, db, address, databaseDescription: opened.description, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
