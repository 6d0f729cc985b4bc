import type { FastifyInstance } from 'fastify';

export interface HealthRoutesOptions {
  /** Resolves to the list of problems; empty when the service can take traffic. */
  readiness(): Promise<string[]>;
}

/** GET /health (the process is up) and GET /ready (database reachable, schema current). */
export async function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions) {
  app.get('/health', { logLevel: 'warn' }, async () => ({
    status: 'ok',
  }));

  app.get('/ready', { logLevel: 'warn' }, async (_request, reply) => {
    const problems = await options.readiness();
    if (problems.length > 0) {
      return reply.status(503).send({
        status: 'unavailable',
        error: { code: 'service_unavailable', message: problems.join('; ') },
      });
    }
    return { status: 'ready' };
  });
}
