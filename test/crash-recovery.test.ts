import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { createPostgresDatabase, engines, makeTempDir } from './helpers/databases.js';
import { serveSettings } from './helpers/processes.js';
import { freePort } from './helpers/service.js';
import { TEST_API_TOKEN, signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

/** `taskwire serve` as a real child process, from source. */
function startServe(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    env: { ...process.env, ...env },
    stdio: [
      'ignore',
      process.env.DEBUG_CHILD ? 'inherit' : 'ignore',
      process.env.DEBUG_CHILD ? 'inherit' : 'ignore',
    ],
  });
}

async function waitReady(baseUrl: string): Promise<void> {
  await waitFor(async () => {
    try {
      return (await fetch(`${baseUrl}/ready`)).ok;
    } catch {
      return false;
    }
  }, 30_000);
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

for (const engine of engines) {
  describe(`a process killed mid-processing [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    const children: ChildProcess[] = [];
    const cleanup: (() => Promise<void>)[] = [];
    before(async () => {
      twilio = await startFakeTwilio();
    });
    after(async () => {
      for (const child of children) child.kill('SIGKILL');
      await Promise.all(children.map(exited));
      for (const step of cleanup) await step();
      await twilio?.close();
    });

    test('an acknowledged message is processed after SIGKILL and restart, with the default lease on Postgres and a one-hour one on PGlite', async () => {
      const temp = makeTempDir('taskwire-crash-');
      cleanup.push(async () => temp.remove());
      const database = engine.name === 'postgres' ? await createPostgresDatabase() : null;
      if (database) cleanup.push(() => database.drop());
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const env = {
        DATA_DIR: temp.dir,
        ...serveSettings(port, twilio),
        // The embedded database gets an hour's lease: only releasing the dead process's
        // claims at start can bring the message back within this test. Postgres keeps the
        // default lease (another process might still be working there).
        ...(engine.name === 'pglite' ? { WORKER_LEASE_MS: String(60 * 60_000) } : {}),
        WORKER_POLL_MS: '100',
        LOG_LEVEL: process.env.DEBUG_CHILD ? 'info' : 'silent',
        ...(database ? { DATABASE_URL: database.url } : {}),
      };
      // The photo download stalls, so the first process is killed while processing it.
      const photo = randomBytes(8 * 1024);
      const media = twilio.addMedia({ bytes: photo, contentType: 'image/jpeg', stallMs: 2500 });
      const params = whatsAppParams({
        messageSid: media.messageSid,
        media: [{ url: media.url, contentType: 'image/jpeg' }],
      });

      const first = startServe(env);
      children.push(first);
      await waitReady(baseUrl);
      const url = `${baseUrl}/webhook/twilio`;
      const ack = await fetch(url, {
        method: 'POST',
        ...(({ payload, headers }) => ({ body: payload, headers }))(signedForm(url, params)),
      });
      assert.equal(ack.status, 200, 'acknowledged');
      await waitFor(async () => media.apiRequests > 0, 10_000);
      first.kill('SIGKILL');
      await exited(first);
      assert.equal(first.signalCode, 'SIGKILL');

      const second = startServe(env);
      children.push(second);
      await waitReady(baseUrl);
      const processed = await waitFor(async () => {
        const response = await fetch(`${baseUrl}/messages/${media.messageSid}`, {
          headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
        });
        const message = (await response.json()) as {
          processed: boolean;
          attempts: number;
          id: number;
        };
        return message.processed ? message : null;
        // Postgres: the default 30-second lease (renewed every 10 s until the kill), plus
        // time to start and to copy the stalled photo on a loaded machine: under the
        // 5-minute lease this replaced, it would time out. PGlite: at once after restart.
      }, 90_000);
      // The killed attempt counts; on a loaded machine a slow heartbeat may add one more.
      assert.ok(processed.attempts >= 2, `attempts ${processed.attempts}`);
      const stored = await fetch(`${baseUrl}/messages/${processed.id}/media/0`, {
        headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
      });
      assert.ok(Buffer.from(await stored.arrayBuffer()).equals(photo));
      second.kill('SIGTERM');
      await exited(second);
      assert.equal(second.exitCode, 0, 'SIGTERM stops gracefully');
    });
  });
}
