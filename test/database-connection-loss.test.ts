import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../src/config/config.js';
import {
  DatabaseConnectError,
  connectFailure,
  isConnectionError,
} from '../src/db/connection-errors.js';
import type { Database } from '../src/db/executor.js';
import { openPostgres } from '../src/db/postgres.js';
import { createReminderScheduler } from '../src/jobs/reminder-scheduler.js';
import { migrate } from '../src/db/migrate.js';
import type { InboundMessageStore } from '../src/services/receive-inbound.js';
import { type RunningService, startService } from '../src/start/service.js';
import { createTestApp } from './helpers/app.js';
import { createPostgresDatabase, engines, makeTempDir, postgres } from './helpers/databases.js';
import { freePort } from './helpers/service.js';
import { startTcpProxy, targetOf, terminateBackends, type TcpProxy } from './helpers/tcp-proxy.js';
import {
  TEST_API_TOKEN,
  TEST_AUTH_TOKEN,
  signedForm,
  whatsAppParams,
} from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const adminUrl = process.env.TEST_DATABASE_URL ?? '';

/** An error shaped as node-postgres and node:net raise them. */
const dbError = (message: string, code?: string) =>
  Object.assign(new Error(message), code ? { code } : {});

describe('isConnectionError', () => {
  test('recognises a lost, refused or shutting-down server', () => {
    const lost = [
      dbError('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'),
      dbError('read ECONNRESET', 'ECONNRESET'),
      dbError('Connection terminated unexpectedly'),
      dbError('Connection terminated due to connection timeout'),
      dbError('timeout exceeded when trying to connect'),
      dbError('terminating connection due to administrator command', '57P01'),
      dbError('the database system is shutting down', '57P03'),
      dbError('connection failure', '08006'),
      dbError('connection does not exist', '08003'),
      // A host with several addresses refuses on each: node reports an AggregateError.
      new AggregateError([dbError('connect ECONNREFUSED ::1:1', 'ECONNREFUSED')], ''),
      new Error('wrapped', { cause: dbError('read ECONNRESET', 'ECONNRESET') }),
    ];
    for (const error of lost) assert.equal(isConnectionError(error), true, String(error));
  });

  test('leaves statement errors alone', () => {
    const others = [
      dbError('duplicate key value violates unique constraint', '23505'),
      dbError('invalid byte sequence for encoding "UTF8": 0x00', '22021'),
      dbError('database "nope" does not exist', '3D000'),
      dbError('password authentication failed for user "x"', '28P01'),
      new Error('something else'),
      'a string',
      null,
    ];
    for (const error of others) assert.equal(isConnectionError(error), false, String(error));
  });

  test('the start-up report is one line naming the server and never the password', () => {
    const report = connectFailure(
      'postgres://ada:s3cret@db.example.com:6543/taskwire',
      dbError('password authentication failed for user "ada"', '28P01'),
      0,
    );
    assert.ok(report instanceof DatabaseConnectError);
    assert.doesNotMatch(report.message, /\n/);
    assert.doesNotMatch(report.message, /s3cret/);
    assert.match(report.message, /db\.example\.com:6543, database "taskwire" as user "ada"/);
    assert.match(report.message, /password/);
  });
});

for (const engine of engines) {
  describe(`the webhook while the database is unreachable [${engine.name}]`, () => {
    // One app; each test sets the error its store fails with.
    let storeError: Error = new Error('unset');
    const failing: InboundMessageStore = {
      store: async () => {
        throw storeError;
      },
    };
    let testApp: Awaited<ReturnType<typeof createTestApp>>;
    before(async () => {
      testApp = await createTestApp(engine, { inboundStore: failing });
    });
    after(async () => {
      await testApp?.close();
    });
    const post = async (error: Error) => {
      storeError = error;
      const params = whatsAppParams();
      const { payload, headers } = signedForm('http://localhost/webhook/twilio', params);
      return testApp.app.inject({
        method: 'POST',
        url: '/webhook/twilio',
        headers: { ...headers, host: 'localhost' },
        payload,
      });
    };

    test('a connection-class error answers 503 with Retry-After and the error body', async () => {
      for (const error of [
        dbError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
        dbError('read ECONNRESET', 'ECONNRESET'),
        dbError('Connection terminated unexpectedly'),
        dbError('terminating connection due to administrator command', '57P01'),
        dbError('server closed the connection unexpectedly', '08006'),
      ]) {
        const response = await post(error);
        assert.equal(response.statusCode, 503, error.message);
        assert.equal(response.headers['retry-after'], '5');
        assert.equal(response.json().error.code, 'service_unavailable');
        assert.match(response.json().error.message, /database is unreachable/);
      }
    });

    test('any other failure is still a 500', async () => {
      const response = await post(new Error('a bug'));
      assert.equal(response.statusCode, 500);
      assert.equal(response.headers['retry-after'], undefined);
    });
  });
}

for (const engine of engines) {
  describe(`the reminder scheduler while the database is unreachable [${engine.name}]`, () => {
    test('keeps running and backs off: each failed run waits twice as long as the last', async () => {
      const database = await engine.create();
      let reachable = true;
      const lost = () => dbError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED');
      // The real database until it "goes away".
      const flaky: Database = {
        ...database.db,
        engine: database.db.engine,
        maxConcurrency: database.db.maxConcurrency,
        query: async (sql, params) => {
          if (!reachable) throw lost();
          return database.db.query(sql, params);
        },
        transaction: async (work) => {
          if (!reachable) throw lost();
          return database.db.transaction(work);
        },
      };
      const waits: number[] = [];
      const scheduler = createReminderScheduler(
        flaky,
        {
          offsets: [60],
          defaultTimezone: 'UTC',
          whatsappNumber: null,
          smsNumber: null,
          contentSid: null,
          smsFallback: false,
        },
        {
          pollMs: 10,
          log: {
            info() {},
            warn() {},
            error: (fields: { retryInMs?: number }) => {
              waits.push(fields.retryInMs ?? -1);
            },
          },
        },
      );
      try {
        await scheduler.start();
        reachable = false;
        await waitFor(async () => waits.length >= 4);
        assert.deepEqual(waits.slice(0, 4), [10, 20, 40, 80]);
        // Back: runs succeed again.
        reachable = true;
        assert.deepEqual(await scheduler.runDue(), { expired: 0, reminders: 0 });
      } finally {
        await scheduler.stop();
        await database.destroy();
      }
    });
  });
}

describe('a Postgres connection the server terminates [postgres]', { skip: postgres.skip }, () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let db: Database;
  before(async () => {
    database = await createPostgresDatabase();
    db = await openPostgres({ connectionString: database.url, poolSize: 4 });
    await db.exec('CREATE TABLE items (value int)');
  });
  after(async () => {
    await db?.close();
    await database?.drop();
  });

  test('inside a transaction fails that transaction only; the process and the pool carry on', async () => {
    const failure = await db
      .transaction(async (tx) => {
        await tx.query('INSERT INTO items VALUES (1)');
        const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await db.query('SELECT pg_terminate_backend($1)', [row?.pid]);
        // Once the server has closed it, the checked-out client emits 'error': without a
        // listener that event would end the process here.
        await waitFor(async () => {
          const alive = await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [row?.pid]);
          return alive.length === 0;
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
        await tx.query('INSERT INTO items VALUES (2)');
      })
      .then(
        () => null,
        (error: unknown) => error,
      );
    assert.ok(isConnectionError(failure), `a connection error: ${String(failure)}`);
    // Nothing of the cut-off transaction was committed, and the pool serves new work.
    assert.deepEqual(await db.query('SELECT value FROM items'), []);
    await db.transaction(async (tx) => tx.query('INSERT INTO items VALUES (3)'));
    assert.deepEqual(await db.query('SELECT value FROM items'), [{ value: 3 }]);
  });

  test('transactions and queries under repeated terminations: each fails or commits, none crashes the process', async () => {
    // The race this guards against: the answer that frees a client and the server's
    // termination notice arrive in one network read, so the client is handed to a
    // transaction and fails before an `await` could attach a listener.
    let stop = false;
    let done = 0;
    let failed = 0;
    const loops = Array.from({ length: 8 }, async (_, i) => {
      while (!stop) {
        try {
          if (i % 2 === 0) await db.query('SELECT pg_sleep(0.002)');
          else {
            await db.transaction(async (tx) => {
              await tx.query('INSERT INTO items VALUES (0)');
              await tx.query('SELECT pg_sleep(0.004)');
            });
          }
          done += 1;
        } catch (error) {
          assert.ok(isConnectionError(error), String(error));
          failed += 1;
        }
      }
    });
    for (let round = 0; round < 10; round += 1) {
      const target = done + 20;
      await waitFor(async () => done >= target, 30_000);
      await terminateBackends(adminUrl, database.url);
    }
    stop = true;
    await Promise.all(loops);
    assert.ok(failed > 0, 'terminations cut some work off');
    await db.exec('DELETE FROM items');
  });

  test('LISTEN reconnects and wakes its listener, then receives notifications again', async () => {
    let wakes = 0;
    const unlisten = await db.listen('connection_loss_test', () => {
      wakes += 1;
    });
    try {
      assert.ok((await terminateBackends(adminUrl, database.url)) >= 1);
      // Reconnected: the listener is woken once, as notifications may have been missed.
      await waitFor(async () => wakes >= 1);
      const before = wakes;
      await waitFor(async () => {
        await db.query(`SELECT pg_notify('connection_loss_test', '')`);
        return wakes > before;
      });
    } finally {
      await unlisten();
    }
  });
});

describe('opening Postgres at start-up [postgres]', { skip: postgres.skip }, () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  before(async () => {
    database = await createPostgresDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  test('retries a server that is not up yet and opens once it is', async () => {
    const proxy = await startTcpProxy(targetOf(database.url), {
      listen: false,
      port: await freePort(),
    });
    let retries = 0;
    try {
      const db = await openPostgres({
        connectionString: proxy.url(database.url),
        poolSize: 2,
        startupRetryMs: 60_000,
        onStartupRetry: () => {
          retries += 1;
          // The server comes up after the first refused attempt.
          if (retries === 1) void proxy.restore();
        },
      });
      assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }]);
      await db.close();
      assert.ok(retries >= 1);
    } finally {
      await proxy.close();
    }
  });

  test('gives up on a closed port with one line naming it', async () => {
    const port = await freePort();
    const error = await openPostgres({
      connectionString: `postgres://postgres@127.0.0.1:${port}/taskwire`,
      poolSize: 2,
      startupRetryMs: 600,
    }).then(
      () => null,
      (failure: unknown) => failure as Error,
    );
    assert.ok(error instanceof DatabaseConnectError, String(error));
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}, database "taskwire"`));
    assert.match(error.message, /ECONNREFUSED/);
    assert.doesNotMatch(error.message, /\n/);
  });
});

describe(
  'serve while its database goes away and comes back [postgres]',
  { skip: postgres.skip },
  () => {
    let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
    let proxy: TcpProxy;
    let service: RunningService;
    const temp = makeTempDir('taskwire-outage-');
    before(async () => {
      database = await createPostgresDatabase();
      proxy = await startTcpProxy(targetOf(database.url));
      const migrated = await openPostgres({ connectionString: database.url, poolSize: 1 });
      await migrate(migrated);
      await migrated.close();
      const config = loadConfig({
        DATA_DIR: temp.dir,
        HOST: '127.0.0.1',
        PORT: String(await freePort()),
        API_TOKEN: TEST_API_TOKEN,
        TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
        DATABASE_URL: proxy.url(database.url),
        DATABASE_POOL_SIZE: '4',
        WORKER_POLL_MS: '50',
        WORKER_BACKOFF_MS: '50',
        LOG_LEVEL: 'silent',
      });
      service = await startService(config, pino({ level: 'silent' }));
    });
    after(async () => {
      await proxy?.restore().catch(() => {});
      await service?.stop();
      await proxy?.close();
      await database?.drop();
      temp.remove();
    });

    const deliver = async (params: Record<string, string>) => {
      const url = `${service.address}/webhook/twilio`;
      const { payload, headers } = signedForm(url, params);
      return fetch(url, { method: 'POST', body: payload, headers });
    };
    const message = async (sid: string) => {
      const response = await fetch(`${service.address}/messages/${sid}`, {
        headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
      });
      return response.status === 200 ? ((await response.json()) as Record<string, unknown>) : null;
    };

    test('webhooks answer 503 with Retry-After and /ready 503 meanwhile, then 200 without a restart', async () => {
      const before = whatsAppParams({ body: 'before' });
      assert.equal((await deliver(before)).status, 200);

      await proxy.cut();
      const refused = whatsAppParams({ body: 'during' });
      const during = await deliver(refused);
      assert.equal(during.status, 503);
      assert.equal(during.headers.get('retry-after'), '5');
      assert.equal(
        ((await during.json()) as { error: { code: string } }).error.code,
        'service_unavailable',
      );
      const ready = await fetch(`${service.address}/ready`);
      assert.equal(ready.status, 503);
      assert.match(await ready.text(), /database unreachable/);
      assert.equal((await fetch(`${service.address}/health`)).status, 200, 'the process is up');

      await proxy.restore();
      // Twilio retries the refused webhook: it is acknowledged once the database is back.
      await waitFor(async () => (await deliver(refused)).status === 200, 30_000);
      assert.equal((await fetch(`${service.address}/ready`)).status, 200);
      // Both are stored and processed by the same, never restarted, workers.
      for (const sid of [before.MessageSid as string, refused.MessageSid as string]) {
        await waitFor(async () => (await message(sid))?.processing_status === 'processed', 30_000);
      }
    });
  },
);
