import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { createPostgresDatabase, makeTempDir, postgres } from './helpers/databases.js';
import { type CliProcess, startServe, waitReady } from './helpers/processes.js';
import { terminateBackends } from './helpers/tcp-proxy.js';
import { TEST_API_TOKEN, signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

// Issue 12, item 1: every backend of the service's database is terminated three times
// while webhooks arrive and photos are processed. The process must stay up, acknowledge
// again without a restart, and lose nothing it acknowledged.

const PHOTOS = 12;
const GROUP = '+14155238886';
const adminUrl = process.env.TEST_DATABASE_URL ?? '';

describe('pg_terminate_backend under load [postgres]', { skip: postgres.skip }, () => {
  let twilio: FakeTwilio;
  let serve: CliProcess;
  let baseUrl: string;
  let databaseUrl: string;
  const cleanup: (() => Promise<void> | void)[] = [];

  before(async () => {
    twilio = await startFakeTwilio();
    const database = await createPostgresDatabase();
    databaseUrl = database.url;
    cleanup.push(() => database.drop());
    const temp = makeTempDir('taskwire-terminate-');
    cleanup.push(() => temp.remove());
    ({ process: serve, baseUrl } = await startServe(twilio, {
      DATABASE_URL: database.url,
      DATA_DIR: temp.dir,
      TWILIO_WHATSAPP_NUMBER: GROUP,
      WORKER_POLL_MS: '100',
      WORKER_BACKOFF_MS: '100',
      WORKER_LEASE_MS: '3000',
      WORKER_MAX_ATTEMPTS: '10',
      DATABASE_POOL_SIZE: '6',
      ...(process.env.DEBUG_CHILD ? { LOG_LEVEL: 'info' } : {}),
    }));
    await waitReady(baseUrl, serve);
  });
  after(async () => {
    serve?.kill('SIGKILL');
    await serve?.exited;
    for (const step of cleanup.reverse()) await step();
    await twilio?.close();
  });

  const api = async <T>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TEST_API_TOKEN}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const post = async (params: Record<string, string>): Promise<number> => {
    const url = `${baseUrl}/webhook/twilio`;
    const { payload, headers } = signedForm(url, params);
    try {
      return (await fetch(url, { method: 'POST', body: payload, headers })).status;
    } catch {
      return 0; // connection refused: the process is gone
    }
  };

  test('three rounds of terminated connections: alive, acks resume, nothing acknowledged is lost', async (ctx) => {
    const people = [];
    for (let i = 0; i < PHOTOS; i += 1) {
      const phone = `+1555042${String(i).padStart(4, '0')}`;
      const user = await api<{ id: number }>('POST', '/users', {
        username: `walker${i}`,
        phone_number: phone,
      });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      const task = await api<{ id: number }>('POST', '/tasks', {
        user_id: user.body.id,
        description: `Walk ${i}`,
        due_time: new Date(Date.now() + 3_600_000).toISOString(),
      });
      assert.equal(task.status, 201, JSON.stringify(task.body));
      people.push({ phone, taskId: task.body.id });
    }

    const acknowledged = new Set<string>();
    const statuses: number[] = [];
    // Twilio re-delivers a webhook answered 5xx: each photo is posted until acknowledged.
    const deliverUntilAcked = async (params: Record<string, string>) => {
      for (;;) {
        const status = await post(params);
        statuses.push(status);
        if (status === 200) {
          acknowledged.add(params.MessageSid as string);
          return;
        }
        assert.notEqual(status, 0, `the process is gone:\n${serve.stderr()}`);
        assert.equal(status, 503, 'only 503 while the database is away');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    // Photos whose downloads stall, so processing is in flight when connections die.
    const photos = people.map((person) => {
      const media = twilio.addMedia({
        bytes: randomBytes(4096),
        contentType: 'image/jpeg',
        stallMs: 300,
      });
      return {
        media,
        taskId: person.taskId,
        params: whatsAppParams({
          from: person.phone,
          to: GROUP,
          body: 'Done!',
          messageSid: media.messageSid,
          media: [{ url: media.url, contentType: 'image/jpeg' }],
        }),
      };
    });

    // Text chatter keeps webhooks arriving all through the terminations.
    let chatting = true;
    const chatter = (async () => {
      while (chatting) {
        await deliverUntilAcked(whatsAppParams({ from: '+15550429999', body: 'hello' }));
      }
    })();

    let terminated = 0;
    try {
      for (let round = 0; round < 3; round += 1) {
        const batch = photos.slice((round * PHOTOS) / 3, ((round + 1) * PHOTOS) / 3);
        const deliveries = Promise.all(batch.map((photo) => deliverUntilAcked(photo.params)));
        // Once one of this round's photos is being processed (its media requested), cut.
        await waitFor(async () => batch.some((photo) => photo.media.apiRequests > 0), 30_000);
        terminated += await terminateBackends(adminUrl, databaseUrl);
        await deliveries;
      }
    } finally {
      chatting = false;
      await chatter;
    }
    ctx.diagnostic(
      `terminated ${terminated} backends; ${statuses.filter((s) => s === 503).length} of ${statuses.length} webhooks answered 503`,
    );
    assert.ok(terminated >= 3, 'connections were terminated');

    assert.equal(serve.child.exitCode, null, `the process is alive:\n${serve.stderr()}`);
    // Acknowledgements resumed without a restart.
    assert.equal(await post(whatsAppParams({ body: 'after' })), 200);

    for (const sid of acknowledged) {
      const stored = await api('GET', `/messages/${sid}`);
      assert.equal(stored.status, 200, `acknowledged ${sid} is stored`);
    }
    for (const photo of photos) {
      await waitFor(async () => {
        const task = await api<{ status: string }>('GET', `/tasks/${photo.taskId}`);
        return task.body.status === 'completed';
      }, 60_000).catch(async (error: unknown) => {
        const message = await api('GET', `/messages/${photo.params.MessageSid}`);
        const task = await api('GET', `/tasks/${photo.taskId}`);
        throw new Error(
          `task ${photo.taskId} not completed: ${JSON.stringify(task.body)}\nmessage: ${JSON.stringify(message.body)}`,
          { cause: error },
        );
      });
    }
    assert.equal(serve.child.exitCode, null, 'still alive');
    serve.kill('SIGTERM');
    assert.equal(await serve.exited, 0, 'stops gracefully');
  });
});
