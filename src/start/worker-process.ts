import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { migrate } from '../db/migrate.js';
import { openDatabase } from './database.js';
import { createWorkers, describeDelivery, openBlobStore } from './processing.js';

export class WorkerNeedsPostgresError extends Error {
  constructor() {
    super(
      '`taskwire worker` needs DATABASE_URL: the embedded database belongs to one process, and\n' +
        '`taskwire serve` already processes messages itself. To scale out, point every process at\n' +
        'one Postgres database (DATABASE_URL), then run `taskwire serve` with RUN_WORKERS=false\n' +
        'and as many `taskwire worker` processes as you need.',
    );
    this.name = 'WorkerNeedsPostgresError';
  }
}

/** `taskwire worker`: processes messages and sends replies, without an HTTP server. */
export async function startWorkerProcess(
  config: Config,
  log: Logger,
): Promise<{ stop(): Promise<void> }> {
  if (!config.databaseUrl) throw new WorkerNeedsPostgresError();
  const opened = await openDatabase(config);
  try {
    await migrate(opened.db);
    const store = await openBlobStore(config);
    const workers = createWorkers(config, opened.db, store, log);
    await workers.start();
    log.info(
      { database: opened.description, concurrency: config.worker.concurrency },
      'worker started',
    );
    log.info({ outbox: !config.twilio.accountSid && !config.production }, describeDelivery(config));
    return {
      async stop() {
        await workers.stop(10_000);
        await opened.release();
      },
    };
  } catch (error) {
    await opened.release();
    throw error;
  }
}
