import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { createPostgresDatabase, makeTempDir, postgres } from './helpers/databases.js';
import { type ServeProcess, startServe, waitReady } from './helpers/processes.js';
import { TEST_API_TOKEN, signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import type { Database } from '../src/db/executor.js';
import { openPostgres } from '../src/db/postgres.js';
import { waitFor, waitForQueuesIdle } from './helpers/worker.js';

// Scaling out: two `taskwire serve` processes on one Postgres database, each receiving
// every webhook (as a load balancer retrying on the other instance would), both running
// workers. Nothing may happen twice: one feed post and one reply per message, exact points.

const USERS = 30;
const GROUP = '+14155238886';

describe('two serve processes on one Postgres database', { skip: postgres.skip }, () => {
  let twilio: FakeTwilio;
  // The test's own connection to the shared database, to see when both queues are idle.
  let db: Database;
  const serves: ServeProcess[] = [];
  const cleanup: (() => Promise<void> | void)[] = [];

  before(async () => {
    twilio = await startFakeTwilio();
    const database = await createPostgresDatabase();
    cleanup.push(() => database.drop());
    db = await openPostgres({ connectionString: database.url, poolSize: 1 });
    cleanup.push(() => db.close());
    // One DATA_DIR: the local storage folder plays the shared bucket.
    const temp = makeTempDir('taskwire-scale-');
    cleanup.push(() => temp.remove());
    for (let i = 0; i < 2; i += 1) {
      serves.push(
        await startServe(twilio, {
          DATABASE_URL: database.url,
          DATA_DIR: temp.dir,
          TWILIO_WHATSAPP_NUMBER: GROUP,
          WORKER_POLL_MS: '100',
          DATABASE_POOL_SIZE: '8',
        }),
      );
    }
    await Promise.all(serves.map((serve) => waitReady(serve.baseUrl, serve.process)));
  });
  after(async () => {
    for (const serve of serves) serve.process.kill('SIGKILL');
    await Promise.all(serves.map((serve) => serve.process.exited));
    for (const step of cleanup.reverse()) await step();
    await twilio?.close();
  });

  const api = async <T>(baseUrl: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TEST_API_TOKEN}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    assert.ok(response.status < 300, `${method} ${path}: ${response.status}`);
    return (await response.json()) as T;
  };

  test('30 photos, each delivered to both processes: 30 feed posts, exact points, one reply each', async (ctx) => {
    const [a, b] = serves.map((serve) => serve.baseUrl) as [string, string];
    const people = await Promise.all(
      Array.from({ length: USERS }, async (_, i) => {
        const phone = `+1555031${String(i).padStart(4, '0')}`;
        // Users through one process, their tasks through the other: one database.
        const user = await api<{ id: number }>(a, 'POST', '/users', {
          username: `runner${i}`,
          phone_number: phone,
        });
        await api(b, 'POST', '/tasks', {
          // These tests count the replies: no assignment notice for an admin's task.
          notify: false,
          user_id: user.id,
          description: `Run ${i}`,
          due_time: new Date(Date.now() + 3_600_000).toISOString(),
          points: 10 + i,
        });
        return { phone, userId: user.id, points: 10 + i };
      }),
    );

    const deliveries = people.flatMap((person) => {
      const photo = twilio.addMedia({ bytes: randomBytes(4096), contentType: 'image/jpeg' });
      const params = whatsAppParams({
        from: person.phone,
        to: GROUP,
        body: 'Done!',
        messageSid: photo.messageSid,
        media: [{ url: photo.url, contentType: 'image/jpeg' }],
      });
      return [a, b].map(async (baseUrl) => {
        const url = `${baseUrl}/webhook/twilio`;
        const { payload, headers } = signedForm(url, params);
        return (await fetch(url, { method: 'POST', body: payload, headers })).status;
      });
    });
    const statuses = await Promise.all(deliveries);
    assert.deepEqual(new Set(statuses), new Set([200]), 'every delivery acknowledged');

    const replied = () =>
      new Set(twilio.messageRequests.filter((r) => r.sid).map((r) => r.params.To));
    await waitFor(async () => replied().size === USERS, 45_000);
    // Both processes' queues empty: no duplicate can still be on its way, counts are final.
    await waitForQueuesIdle(db);

    const feed = await api<{ total: number; items: { user_id: number; task_id: number }[] }>(
      a,
      'GET',
      '/feed?limit=100',
    );
    assert.equal(feed.total, USERS, 'one feed post per photo');
    assert.equal(new Set(feed.items.map((post) => post.user_id)).size, USERS);
    const users = await api<{ items: { id: number; points: number }[] }>(
      b,
      'GET',
      '/users?limit=100',
    );
    for (const person of people) {
      const user = users.items.find((u) => u.id === person.userId);
      assert.equal(user?.points, person.points, `points of user ${person.userId}`);
    }
    const sent = twilio.messageRequests.filter((r) => r.sid);
    assert.equal(sent.length, USERS, 'exactly one reply per message');
    for (const person of people) {
      const replies = sent.filter((r) => r.params.To === `whatsapp:${person.phone}`);
      assert.equal(replies.length, 1, `replies to ${person.phone}`);
      assert.match(replies[0]?.params.Body ?? '', /is done!/);
    }

    // Both processes' workers shared the work; together they did each job exactly once.
    const processed = await Promise.all(
      [a, b].map(async (baseUrl) => {
        const response = await fetch(`${baseUrl}/metrics`, {
          headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
        });
        const text = await response.text();
        const count = (queue: string) =>
          Number(
            new RegExp(`^taskwire_jobs_processed_total\\{queue="${queue}"\\} (\\d+)$`, 'm').exec(
              text,
            )?.[1] ?? 0,
          );
        return { inbound: count('inbound'), outbound: count('outbound') };
      }),
    );
    ctx.diagnostic(`jobs per process: ${JSON.stringify(processed)}`);
    assert.equal(processed[0]!.inbound + processed[1]!.inbound, USERS);
    assert.equal(processed[0]!.outbound + processed[1]!.outbound, USERS);

    for (const serve of serves) serve.process.kill('SIGTERM');
    assert.deepEqual(await Promise.all(serves.map((serve) => serve.process.exited)), [0, 0]);
  });
});
