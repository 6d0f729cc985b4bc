import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorBody, serviceUnavailable } from '../../domain/errors.js';
import { ErrorBody } from '../schemas.js';

export interface HealthRoutesOptions {
  /** Resolves to the list of problems; empty when the service can take traffic. */
  readiness(): Promise<string[]>;
}

/** GET /health (the process is up) and GET /ready (database reachable, schema current). */
export async function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.get(
    '/health',
    {
      logLevel: 'warn',
      schema: {
        summary: 'Liveness: the process is up',
        tags: ['health'],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  typed.get(
    '/ready',
    {
      logLevel: 'warn',
      schema: {
        summary: 'Readiness: the database is reachable and migrated',
        tags: ['health'],
        response: {
          200: Type.Object({ status: Type.Literal('ready') }),
          503: Type.Object(
            {
              status: Type.Literal('unavailable'),
              error: ErrorBody.properties.error,
            },
            { description: 'Not ready; `error.message` lists the problems.' },
          ),
        },
      },
    },
    async (_request, reply) => {
      const problems = await options.readiness();
      if (problems.length > 0) {
        return reply.status(503).send({
          status: 'unavailable',
          ...errorBody(serviceUnavailable(problems.join('; '))),
        });
      }
      return { status: 'ready' as const };
    },
  );
}
