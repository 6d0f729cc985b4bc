import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LiveEvent, LiveEvents, LiveFilter } from '../services/live-events.js';

export interface EventStreamOptions {
  hub: LiveEvents;
  filter: LiveFilter;
  /** A comment line this often, so proxies and browsers keep an idle stream open. */
  heartbeatMs: number;
  /** Streams still open when the app closes end then (the shutdown does not wait for them). */
  open: Set<() => void>;
}

/** How long a browser waits before reconnecting after a drop (the `retry:` field). */
const RETRY_MS = 1_000;

/**
 * The Last-Event-ID to resume after: the header EventSource sends when it reconnects by
 * itself, else `?last_event_id=` (a new EventSource, opened after its token expired, cannot
 * set headers). Anything that is not a plain number counts as none.
 */
export function lastEventId(request: FastifyRequest, fromQuery?: string): number | null {
  const header = request.headers['last-event-id'];
  const value = (Array.isArray(header) ? header[0] : header) ?? fromQuery;
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : null;
}

const frame = (event: LiveEvent): string =>
  `id: ${event.id}\nevent: ${event.kind}\ndata: ${JSON.stringify(event)}\n\n`;

/**
 * Answers with a Server-Sent Events stream of the hub's events the filter accepts, resumed
 * after Last-Event-ID, until the client goes away or the app closes. Shared by the admin's
 * `GET /events` and the participant app's session-scoped stream.
 */
export async function streamEvents(
  request: FastifyRequest,
  reply: FastifyReply,
  options: EventStreamOptions & { afterId: number | null },
): Promise<void> {
  const raw = reply.raw;
  reply.hijack();
  // Security headers set by earlier hooks (helmet) go out too: hijacking skips onSend.
  const headers: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) headers[name] = value;
  }
  raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // nginx and some proxies buffer answers unless told not to.
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
  });
  raw.write(`retry: ${RETRY_MS}\n: connected\n\n`);

  let ended = false;
  let subscription: { close(): void } | null = null;
  const end = (): void => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    subscription?.close();
    options.open.delete(end);
    raw.end();
  };
  const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), options.heartbeatMs);
  options.open.add(end);
  request.raw.on('close', end);
  raw.on('error', end);

  try {
    subscription = await options.hub.subscribeEvents(
      options.filter,
      (event) => {
        if (!ended) raw.write(frame(event));
      },
      options.afterId,
    );
    if (ended) subscription.close();
  } catch (error) {
    request.log.warn({ err: error }, 'live events: could not subscribe');
    // The browser reconnects after `retry` and resumes from its last id.
    end();
  }
}
