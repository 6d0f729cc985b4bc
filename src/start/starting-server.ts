import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { errorBody, serviceUnavailable } from '../domain/errors.js';

/** The HTTP server, listening before the app exists; see listenWhileStarting. */
export interface StartingServer {
  /** Where it listens, e.g. http://127.0.0.1:8000. */
  address: string;
  /** Hands every request from now on to the app (which must be ready). */
  serve(app: FastifyInstance): void;
  /**
   * Stops accepting connections and resolves once every open one has ended; idle
   * keep-alive connections are closed as they go idle. Safe to call twice.
   */
  close(): Promise<void>;
}

/**
 * Listens on HOST:PORT before the database is open (`taskwire serve`, src/start/service.ts):
 * a platform's health check sees the process up within a second. Until serve() hands it
 * the app, GET /health answers 200 (the process is up), /ready 503, and everything else
 * 503 with the usual error body: nothing that reads or writes data is reachable before
 * the database is ready and migrated, and Twilio retries a webhook answered 503.
 */
export async function listenWhileStarting(
  config: Pick<Config, 'host' | 'port'>,
): Promise<StartingServer> {
  let route: (request: http.IncomingMessage, response: http.ServerResponse) => void =
    answerWhileStarting;
  const server = http.createServer((request, response) => route(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: config.host, port: config.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });

  let closing: Promise<void> | null = null;
  return {
    address: addressOf(server.address() as AddressInfo),
    serve(app) {
      adoptServerSettings(server, app.server);
      route = (request, response) => app.routing(request, response);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        const closeIdle = setInterval(() => server.closeIdleConnections(), 100);
        server.close(() => {
          clearInterval(closeIdle);
          resolve();
        });
      });
      return closing;
    },
  };
}

const startingBody = (status: number, body: object) => ({ status, json: JSON.stringify(body) });
const STARTING = {
  health: startingBody(200, { status: 'ok' }),
  ready: startingBody(503, {
    status: 'unavailable',
    ...errorBody(serviceUnavailable('starting: the database is not open yet')),
  }),
  other: startingBody(
    503,
    errorBody(
      serviceUnavailable(
        'Taskwire is starting and not ready for this request yet; retry in a moment.',
      ),
    ),
  ),
};

function answerWhileStarting(request: http.IncomingMessage, response: http.ServerResponse) {
  const path = (request.url ?? '/').split('?')[0]?.replace(/\/+$/, '') ?? '';
  const isGet = request.method === 'GET' || request.method === 'HEAD';
  const answer =
    isGet && path === '/health'
      ? STARTING.health
      : isGet && path === '/ready'
        ? STARTING.ready
        : STARTING.other;
  response.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(answer.json),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...(answer.status === 503 ? { 'retry-after': '1' } : {}),
  });
  response.end(request.method === 'HEAD' ? undefined : answer.json);
}

/**
 * The app's own server never listens (this one does), so its timeouts, which Fastify set
 * from its options, and its handler for malformed requests are copied over.
 */
function adoptServerSettings(server: http.Server, appServer: FastifyInstance['server']): void {
  if (!(appServer instanceof http.Server)) return;
  server.keepAliveTimeout = appServer.keepAliveTimeout;
  server.requestTimeout = appServer.requestTimeout;
  server.headersTimeout = appServer.headersTimeout;
  server.maxRequestsPerSocket = appServer.maxRequestsPerSocket;
  server.timeout = appServer.timeout;
  for (const listener of appServer.listeners('clientError')) {
    server.on('clientError', listener as (error: Error, socket: unknown) => void);
  }
}

/** `http://host:port` as Fastify's listen() reports it. */
function addressOf(info: AddressInfo): string {
  const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  return `http://${host}:${info.port}`;
}
