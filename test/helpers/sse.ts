import { TEST_API_TOKEN } from './twilio-webhook.js';

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

export interface SseClient {
  status: number;
  events: SseEvent[];
  /** Comment lines seen (`: heartbeat`). */
  comments: string[];
  close(): void;
  closed: Promise<void>;
}

/** Opens a Server-Sent Events stream with fetch and collects its events as they arrive. */
export async function openEventStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const client: SseClient = {
    status: response.status,
    events: [],
    comments: [],
    close: () => controller.abort(),
    closed: Promise.resolve(),
  };
  if (response.status !== 200 || !response.body) {
    await response.arrayBuffer();
    return client;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  client.closed = (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { id: null, event: 'message', data: '' };
          let hasData = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) client.comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              event.data += line.slice(6);
              hasData = true;
            }
          }
          if (hasData) client.events.push(event);
        }
      }
    } catch {
      // aborted
    }
  })();
  return client;
}

/** A stream token from POST /events/token. */
export async function eventsToken(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/events/token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
  });
  if (response.status !== 200) throw new Error(`POST /events/token: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

export const eventData = (event: SseEvent) =>
  JSON.parse(event.data) as {
    id: number;
    kind: string;
    action: string;
    row_id: number;
    user_id: number | null;
  };
