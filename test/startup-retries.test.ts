import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { isConnectionError } from '../src/db/connection-errors.js';
import type { Database } from '../src/db/executor.js';
import { migrate } from '../src/db/migrate.js';
import { openPostgres } from '../src/db/postgres.js';
import { createReminderScheduler } from '../src/jobs/reminder-scheduler.js';
import { createPostgresDatabase, postgres } from './helpers/databases.js';
import { baseNoticeSettings } from './helpers/notices.js';
import { startTcpProxy, targetOf, type TcpProxy } from './helpers/tcp-proxy.js';
import { waitFor } from './helpers/worker.js';

// Start-up steps after the pool is open are retried like opening it was
// (DATABASE_CONNECT_TIMEOUT_MS): a worker's first LISTEN connection and the reminder
// scheduler's backfill, when the database is away at that instant. The proxy in front of
// Postgres refuses connections while cut; each test restores it once a retry was reported,
// the condition that proves the step is waiting rather than failed.

/** A promise and the function that resolves it. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('start-up retries while the database is away (Postgres)', { skip: postgres.skip }, () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let direct: Database;
  let proxy: TcpProxy;
  const opened: Database[] = [];

  before(async () => {
    database = await createPostgresDatabase();
    direct = await openPostgres({ connectionString: database.url, poolSize: 2 });
    await migrate(direct);
    proxy = await startTcpProxy(targetOf(database.url));
  });
  after(async () => {
    for (const db of opened) await db.close().catch(() => {});
    await proxy?.close();
    await direct?.close();
    await database?.drop();
  });

  /** A Database through the proxy (opened while the proxy is up), retrying for `budgetMs`. */
  const throughProxy = async (budgetMs: number, onRetry?: (error: unknown) => void) => {
    const db = await openPostgres({
      connectionString: proxy.url(database.url),
      poolSize: 2,
      startupRetryMs: budgetMs,
      onStartupRetry: onRetry,
    });
    opened.push(db);
    return db;
  };

  test('the first LISTEN connection is retried until the database is back, then hears NOTIFY', async () => {
    const retried = signal<unknown>();
    const db = await throughProxy(60_000, (error) => retried.resolve(error));
    await proxy.cut();
    let notified = 0;
    const listening = db.listen('taskwire_startup_test', () => (notified += 1));
    assert.ok(isConnectionError(await retried.promise), 'retried for a refused connection');
    await proxy.restore();
    const unlisten = await listening;
    try {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      await client.query('NOTIFY taskwire_startup_test');
      await client.end();
      await waitFor(async () => notified > 0);
    } finally {
      await unlisten();
    }
  });

  test('without a retry budget, a refused first LISTEN fails at once in one line', async () => {
    const db = await throughProxy(0);
    await proxy.cut();
    try {
      await assert.rejects(
        db.listen('taskwire_startup_test', () => {}),
        (error: Error) => {
          assert.equal(error.name, 'DatabaseConnectError');
          assert.match(error.message, /ECONNREFUSED/);
          return true;
        },
      );
    } finally {
      await proxy.restore();
    }
  });

  test("the reminder scheduler's backfill is retried until the database is back", async () => {
    // An active task without its stages (created before reminders existed).
    const [user] = await direct.query<{ id: number }>(
      `INSERT INTO users (username, phone_number) VALUES ('Ada', '+15550250001') RETURNING id`,
    );
    const [task] = await direct.query<{ id: number }>(
      `INSERT INTO tasks (user_id, description, due_time)
       VALUES ($1, 'Run 5k', now() + interval '1 day') RETURNING id`,
      [user?.id],
    );
    await direct.query('DELETE FROM task_reminders WHERE task_id = $1', [task?.id]);

    const db = await throughProxy(0);
    const warned = signal<string>();
    const log = { info() {}, error() {}, warn: (_obj: object, msg: string) => warned.resolve(msg) };
    const scheduler = createReminderScheduler(db, baseNoticeSettings, {
      pollMs: 60_000,
      log,
      startupRetryMs: 60_000,
    });
    await proxy.cut();
    let cut = true;
    const started = scheduler.start();
    try {
      assert.match(await warned.promise, /reminder backfill: database not reachable yet/);
      await proxy.restore();
      cut = false;
      await started;
      const stages = await direct.query<{ offset_minutes: number }>(
        `SELECT offset_minutes FROM task_reminders
          WHERE task_id = $1 AND kind = 'reminder' ORDER BY offset_minutes DESC`,
        [task?.id],
      );
      assert.deepEqual(
        stages.map((s) => s.offset_minutes),
        [60, 15],
      );
    } finally {
      if (cut) await proxy.restore();
      await started.catch(() => {});
      await scheduler.stop();
    }
  });
});
