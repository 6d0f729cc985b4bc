import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

// What a proxy's request id may look like to be reused: short, and nothing that could
// forge structure in a log line or a header.
const forwardedId = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Fastify's `genReqId`: the id every log line of a request carries (`reqId`). Reuses the
 * `X-Request-Id` a proxy or load balancer set, so one id follows the request through both
 * logs; otherwise a UUID, unique across processes (Fastify's default `req-1` is not).
 */
export function requestIdFor(request: IncomingMessage): string {
  const header = request.headers['x-request-id'];
  const value = Array.isArray(header) ? header[0] : header;
  return value && forwardedId.test(value) ? value : randomUUID();
}

/** Answers every request with its id in `X-Request-Id`, to quote when reporting a problem. */
export function echoRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
}
