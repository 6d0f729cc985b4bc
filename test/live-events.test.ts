import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { engines } from './helpers/databases.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { eventData, eventsToken, openEventStream, type SseClient } from './helpers/sse.js';
import { TEST_API_TOKEN, signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

// GET /events: the admin dashboard's live stream. Changes written by any code path reach it
// through migration 0019's triggers and the NOTIFY they send at commit; a dropped stream
// resumes after its Last-Event-ID.

for (const engine of engines) {
  describe(`live events (${engine.name})`, { skip: engine.skip }, () => {
    let t: TestApp;
    let baseUrl: string;
    const streams: SseClient[] = [];

    before(async () => {
      t = await createTestApp(engine, { liveHeartbeatMs: 200 });
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    });
    after(async () => {
      for (const stream of streams) stream.close();
      await t?.close();
    });

    const open = async (query: string, headers: Record<string, string> = {}) => {
      const stream = await openEventStream(`${baseUrl}/events${query}`, headers);
      streams.push(stream);
      return stream;
    };
    const addUser = async (username: string, phone: string) => {
      const response = await fetch(`${baseUrl}/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username, phone_number: phone }),
      });
      assert.equal(response.status, 201);
      return (await response.json()) as { id: number };
    };

    test('no token, a forged token or an expired one: 401 with the error body', async () => {
      for (const query of ['', '?token=abc', `?token=1000.${'A'.repeat(43)}`]) {
        const response = await fetch(`${baseUrl}/events${query}`);
        assert.equal(response.status, 401, query);
        const body = (await response.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'unauthorized');
      }
      const refused = await fetch(`${baseUrl}/events/token`, { method: 'POST' });
      assert.equal(refused.status, 401);
      await refused.arrayBuffer();
    });

    test('a last_event_id that is no event id is a 400 saying so, not a stream from now', async () => {
      const token = await eventsToken(baseUrl);
      for (const bad of ['abc', '1e300', '99999999999999999999', '-1']) {
        const response = await fetch(`${baseUrl}/events?token=${token}&last_event_id=${bad}`);
        assert.equal(response.status, 400, bad);
        const body = (await response.json()) as { error: { code: string; message: string } };
        assert.match(body.error.message, /last_event_id/);
      }
    });

    test('a new person and an inbound message arrive on the stream; heartbeats keep it open', async () => {
      const stream = await open(`?token=${await eventsToken(baseUrl)}`);
      assert.equal(stream.status, 200);
      const user = await addUser('Ada', '+15550170001');
      await waitFor(async () =>
        stream.events.find((e) => e.event === 'user' && eventData(e).row_id === user.id),
      );

      const url = `${baseUrl}/webhook/twilio`;
      const { payload, headers } = signedForm(url, whatsAppParams({ from: '+15550170001' }));
      const posted = await fetch(url, { method: 'POST', body: payload, headers });
      assert.equal(posted.status, 200);
      await posted.arrayBuffer();
      const message = await waitFor(async () =>
        stream.events.find((e) => e.event === 'message' && eventData(e).action === 'insert'),
      );
      assert.equal(eventData(message).user_id, user.id, 'the message is tied to its sender');
      await waitFor(async () => stream.comments.includes('heartbeat'));
    });

    test('the API token as a bearer header opens the stream too (curl)', async () => {
      const stream = await open('', { authorization: `Bearer ${TEST_API_TOKEN}` });
      assert.equal(stream.status, 200);
      const user = await addUser('Grace', '+15550170002');
      await waitFor(async () =>
        stream.events.find((e) => e.event === 'user' && eventData(e).row_id === user.id),
      );
    });

    test('an open stream ends when the app closes, rather than holding the shutdown', async () => {
      const own = await createTestApp(engine);
      await own.app.listen({ host: '127.0.0.1', port: 0 });
      const ownUrl = `http://127.0.0.1:${(own.app.server.address() as AddressInfo).port}`;
      const stream = await openEventStream(`${ownUrl}/events?token=${await eventsToken(ownUrl)}`);
      assert.equal(stream.status, 200);
      await own.close();
      await stream.closed;
    });

    test('after a drop, Last-Event-ID resumes with what was missed, and only that', async () => {
      const first = await open(`?token=${await eventsToken(baseUrl)}`);
      const seen = await addUser('Linus', '+15550170003');
      const last = await waitFor(async () =>
        first.events.find((e) => e.event === 'user' && eventData(e).row_id === seen.id),
      );
      first.close();
      await first.closed;
      const missed = await addUser('Barbara', '+15550170004');

      const resumed = await open(`?token=${await eventsToken(baseUrl)}`, {
        'last-event-id': last.id as string,
      });
      const replayed = await waitFor(async () =>
        resumed.events.find((e) => e.event === 'user' && eventData(e).row_id === missed.id),
      );
      assert.ok(Number(replayed.id) > Number(last.id));
      assert.ok(
        !resumed.events.some((e) => e.id === last.id),
        'the event already seen is not sent again',
      );

      // A new EventSource cannot set the header: ?last_event_id= does the same.
      const viaQuery = await open(
        `?token=${await eventsToken(baseUrl)}&last_event_id=${last.id as string}`,
      );
      await waitFor(async () =>
        viaQuery.events.find((e) => e.event === 'user' && eventData(e).row_id === missed.id),
      );
    });
  });
}
