import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { migrate } from '../db/migrate.js';
import { databaseReadiness, openDatabase } from './database.js';
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

export interface RunningWorker {
  /** Where /health, /ready and /metrics answer (WORKER_PORT), e.g. http://127.0.0.1:9100. */
  address: string | null;
  stop(): Promise<void>;
}

type Release = () => Promise<void> | void;

/**
 * `taskwire worker`: processes messages and sends replies, without the webhook or the API.
 * With WORKER_PORT it serves /health, /ready and /metrics there. Stops in reverse order
 * of start: HTTP, workers, database.
 */
export async function startWorkerProcess(config: Config, log: Logger): Promise<RunningWorker> {
  if (!config.databaseUrl) throw new WorkerNeedsPostgresError();
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
    const opened = await openDatabase(config, log);
    releases.push(opened.release);
    await migrate(opened.db);
    const store = await openBlobStore(config);
    // Loaded only with WORKER_PORT: Fastify and prom-client take a while to import.
    const http = config.worker.port === null ? null : await loadHttpModules();
    const metrics = http?.createMetrics(opened.db) ?? null;
    const workers = createWorkers(config, opened.db, store, log, {
      observe: metrics?.observeJob,
    });
    await workers.start();
    releases.push(() => workers.stop(10_000));

    let address: string | null = null;
    if (http && metrics) {
      const app = await http.buildWorkerApp({
        readiness: () => databaseReadiness(opened.db),
        metrics,
        tokens: [config.apiToken, ...(config.metricsToken ? [config.metricsToken] : [])],
        logger: log,
      });
      releases.push(() => app.close());
      address = await app.listen({ host: config.host, port: config.worker.port ?? 0 });
    }
    log.info(
      { database: opened.description, concurrency: config.worker.concurrency, address },
      'worker started',
    );
    log.info({ outbox: !config.twilio.accountSid && !config.production }, describeDelivery(config));
    return { address, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function loadHttpModules() {
  const [workerApp, metrics] = await Promise.all([
    import('../http/worker-app.js'),
    import('./metrics.js'),
  ]);
  return { buildWorkerApp: workerApp.buildWorkerApp, createMetrics: metrics.createMetrics };
}
