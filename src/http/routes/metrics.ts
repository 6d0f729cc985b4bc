import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { unauthorized } from '../../domain/errors.js';
import type { AdminGuard } from '../plugins/security.js';
import { ErrorBody } from '../schemas.js';

/** What the HTTP layer reports to, and reads from, the service's metrics. */
export interface AppMetrics {
  /** After every answer of a Twilio webhook route, with its status code. */
  webhookAnswered(route: 'inbound' | 'status', statusCode: number): void;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsRoutesOptions {
  metrics: AppMetrics;
  /** API_TOKEN and, when set, METRICS_TOKEN: any of them may scrape. */
  tokens: readonly string[];
  guard?: AdminGuard;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

const webhookRoutes: Record<string, 'inbound' | 'status'> = {
  '/webhook/twilio': 'inbound',
  '/webhook/twilio/status': 'status',
};

/** Counts every answer of the Twilio webhooks; added at the root so it sees their routes. */
export function observeWebhooks(app: FastifyInstance, metrics: AppMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = webhookRoutes[request.routeOptions.url ?? ''];
    if (route && request.method === 'POST') metrics.webhookAnswered(route, reply.statusCode);
  });
}

/**
 * GET /metrics in Prometheus' text format. It reveals volumes and error rates, not
 * people's data, but still needs a token: the API token, or METRICS_TOKEN so a scraper
 * need not hold the key to everything.
 */
export async function metricsRoutes(app: FastifyInstance, options: MetricsRoutesOptions) {
  const expected = options.tokens.filter((token) => token.length > 0).map(digest);
  options.guard?.protect(app);
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw unauthorized(
        'Missing token: send "Authorization: Bearer <METRICS_TOKEN or API_TOKEN>".',
      );
    }
    const given = digest(match[1] as string);
    // Compare with every token, so the time taken does not say which one matched.
    const matched = expected.reduce((ok, token) => timingSafeEqual(token, given) || ok, false);
    if (!matched) throw unauthorized('Invalid token for /metrics.');
  });

  app.get(
    '/metrics',
    {
      logLevel: 'warn',
      schema: {
        summary: 'Prometheus metrics',
        description:
          'Webhooks received and rejected, duplicates, jobs processed/failed/retried by queue, queue depth, processing and reply latency, outbound messages by status, and Node.js process metrics. Token: METRICS_TOKEN or API_TOKEN.',
        tags: ['operations'],
        security: [{ bearerAuth: [] }],
        response: {
          200: {
            description: 'The Prometheus text exposition format.',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          401: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await options.metrics.render();
      return reply.type(contentType).send(body);
    },
  );
}
