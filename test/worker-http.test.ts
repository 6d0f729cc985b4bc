import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import { migrate } from '../src/db/migrate.js';
import { openPostgres } from '../src/db/postgres.js';
import { createPostgresDatabase, makeTempDir, postgres } from './helpers/databases.js';
import { type CliProcess, cleanEnv, runCli } from './helpers/processes.js';
import { freePort } from './helpers/service.js';
import { TEST_API_TOKEN, TEST_AUTH_TOKEN } from './helpers/twilio-webhook.js';
import { storeMessages, waitFor } from './helpers/worker.js';

const METRICS_TOKEN = 'test-metrics-token-0123456789';

describe('taskwire worker on WORKER_PORT [postgres]', { skip: postgres.skip }, () => {
  let worker: CliProcess;
  let baseUrl: string;
  let db: Database;
  const cleanup: (() => Promise<void> | void)[] = [];

  before(async () => {
    const database = await createPostgresDatabase();
    cleanup.push(() => database.drop());
    db = await openPostgres({ connectionString: database.url, poolSize: 2 });
    cleanup.push(() => db.close());
    await migrate(db);
    const temp = makeTempDir('taskwire-worker-http-');
    cleanup.push(() => temp.remove());
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    worker = runCli(
      ['worker'],
      cleanEnv({
        DATABASE_URL: database.url,
        DATA_DIR: temp.dir,
        HOST: '127.0.0.1',
        // PORT is the web process's; the worker listens on WORKER_PORT only.
        PORT: String(await freePort()),
        WORKER_PORT: String(port),
        API_TOKEN: TEST_API_TOKEN,
        METRICS_TOKEN,
        TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
        WORKER_POLL_MS: '100',
      }),
    );
    await waitFor(async () => {
      if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.stderr()}`);
      return fetch(`${baseUrl}/health`).then(
        (response) => response.ok,
        () => false,
      );
    }, 60_000);
  });
  after(async () => {
    worker?.kill('SIGKILL');
    await worker?.exited;
    for (const step of cleanup.reverse()) await step();
  });

  const metrics = (token?: string) =>
    fetch(`${baseUrl}/metrics`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  test('GET /health and /ready answer', async () => {
    const health = await fetch(`${baseUrl}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${baseUrl}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' });
  });

  test('GET /metrics needs METRICS_TOKEN or API_TOKEN', async () => {
    const missing = await metrics();
    assert.equal(missing.status, 401);
    assert.equal(
      ((await missing.json()) as { error: { code: string } }).error.code,
      'unauthorized',
    );
    assert.equal((await metrics('not-the-token-at-all')).status, 401);
    assert.equal((await metrics(TEST_API_TOKEN)).status, 200);
    const scraped = await metrics(METRICS_TOKEN);
    assert.equal(scraped.status, 200);
    assert.match(scraped.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await scraped.text(), /^# TYPE taskwire_queue_depth gauge$/m);
  });

  test("/metrics counts the worker's own jobs", async () => {
    await storeMessages(db, [{ body: 'hello from the queue' }]);
    await waitFor(async () => {
      const text = await (await metrics(METRICS_TOKEN)).text();
      return /^taskwire_jobs_processed_total\{queue="inbound"\} 1$/m.test(text);
    }, 30_000);
  });

  test('nothing else is served: no webhook, no API', async () => {
    const response = await fetch(`${baseUrl}/webhook/twilio`, { method: 'POST' });
    assert.equal(response.status, 404);
    assert.equal((await fetch(`${baseUrl}/messages`)).status, 404);
  });

  test('SIGTERM stops it gracefully', async () => {
    worker.kill('SIGTERM');
    assert.equal(await worker.exited, 0);
  });
});
