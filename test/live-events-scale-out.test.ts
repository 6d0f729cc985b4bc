import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { createPostgresDatabase, makeTempDir, postgres } from './helpers/databases.js';
import { type ServeProcess, startServe, waitReady } from './helpers/processes.js';
import { eventData, eventsToken, openEventStream, type SseClient } from './helpers/sse.js';
import { signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

// Live events across instances: a page's stream is open on one `taskwire serve`, the
// webhook reaches the other; Postgres LISTEN/NOTIFY carries the change across. A stream
// that drops and reconnects to the other instance resumes from its Last-Event-ID.

const GROUP = '+14155238886';

describe('live events across two serve processes on Postgres', { skip: postgres.skip }, () => {
  let twilio: FakeTwilio;
  const serves: ServeProcess[] = [];
  const streams: SseClient[] = [];
  const cleanup: (() => Promise<void> | void)[] = [];

  before(async () => {
    twilio = await startFakeTwilio();
    const database = await createPostgresDatabase();
    cleanup.push(() => database.drop());
    const temp = makeTempDir('taskwire-live-');
    cleanup.push(() => temp.remove());
    for (let i = 0; i < 2; i += 1) {
      serves.push(
        await startServe(twilio, {
          DATABASE_URL: database.url,
          DATA_DIR: temp.dir,
          TWILIO_WHATSAPP_NUMBER: GROUP,
          WORKER_POLL_MS: '100',
        }),
      );
    }
    await Promise.all(serves.map((serve) => waitReady(serve.baseUrl, serve.process)));
  });
  after(async () => {
    for (const stream of streams) stream.close();
    for (const serve of serves) serve.process.kill('SIGKILL');
    await Promise.all(serves.map((serve) => serve.process.exited));
    for (const step of cleanup.reverse()) await step();
    await twilio?.close();
  });

  test('a message posted to one instance, and its reply, reach a stream on the other; resume on the first', async () => {
    const [a, b] = serves.map((serve) => serve.baseUrl) as [string, string];
    // The token is signed with a key from API_TOKEN: one instance's token opens the other's stream.
    const onB = await openEventStream(`${b}/events?token=${await eventsToken(a)}`);
    streams.push(onB);
    assert.equal(onB.status, 200);

    const url = `${a}/webhook/twilio`;
    const { payload, headers } = signedForm(
      url,
      whatsAppParams({ from: '+15550180001', to: GROUP, body: 'help' }),
    );
    const posted = await fetch(url, { method: 'POST', body: payload, headers });
    assert.equal(posted.status, 200);
    await posted.arrayBuffer();

    const inbound = await waitFor(async () =>
      onB.events.find((e) => e.event === 'message' && eventData(e).action === 'insert'),
    );
    // Processed by a worker of either instance; the reply is recorded, then sent.
    await waitFor(async () =>
      onB.events.find(
        (e) =>
          e.event === 'message' &&
          eventData(e).action === 'update' &&
          eventData(e).row_id === eventData(inbound).row_id,
      ),
    );
    const reply = await waitFor(async () => onB.events.find((e) => e.event === 'outbound'));

    // The stream drops; the browser reconnects to the other instance with its last id.
    onB.close();
    await onB.closed;
    const onA = await openEventStream(`${a}/events?token=${await eventsToken(a)}`, {
      'last-event-id': inbound.id as string,
    });
    streams.push(onA);
    await waitFor(async () => onA.events.find((e) => e.id === reply.id));
    assert.ok(!onA.events.some((e) => e.id === inbound.id), 'nothing before Last-Event-ID');
  });
});
