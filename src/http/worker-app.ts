import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { registerErrorHandler } from './plugins/error-handler.js';
import { registerSecurity } from './plugins/security.js';
import { healthRoutes } from './routes/health.js';
import { type AppMetrics, metricsRoutes } from './routes/metrics.js';

export interface WorkerAppDeps {
  /** The problems that make the worker unready (database unreachable, schema behind). */
  readiness(): Promise<string[]>;
  metrics: AppMetrics;
  /** API_TOKEN and, when set, METRICS_TOKEN: any of them may scrape /metrics. */
  tokens: readonly string[];
  logger?: FastifyBaseLogger;
}

/**
 * What `taskwire worker` serves on WORKER_PORT: GET /health (the process is up), /ready
 * (its database is reachable and migrated) and /metrics (its jobs, the queues), with the
 * same routes, tokens and lockout of repeated bad tokens as `taskwire serve`. Nothing
 * else: a worker holds no webhook and no data API.
 */
export async function buildWorkerApp(deps: WorkerAppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    disableRequestLogging: true,
    routerOptions: { ignoreTrailingSlash: true },
  });
  registerErrorHandler(app);
  const guard = await registerSecurity(app, { apiRateLimit: 0 });
  await app.register(healthRoutes, { readiness: deps.readiness });
  await app.register(metricsRoutes, { metrics: deps.metrics, tokens: deps.tokens, guard });
  return app;
}
