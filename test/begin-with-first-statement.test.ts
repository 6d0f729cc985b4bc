import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import { openPostgres } from '../src/db/postgres.js';
import { postgres, type TestDatabase } from './helpers/databases.js';

// On Postgres a transaction's BEGIN goes out with its first statement, in one round trip
// (src/db/begin-with-first-statement.ts). The first statement must still run inside the
// transaction, its answer must be its own, and a failing first statement must leave the
// connection as usable as before.

describe('BEGIN with the first statement [postgres]', { skip: postgres.skip }, () => {
  let t: TestDatabase;
  before(async () => {
    t = await postgres.create();
    await t.db.exec('CREATE TABLE begin_probe (id int PRIMARY KEY, note text)');
  });
  after(async () => t?.destroy());

  const count = async () =>
    (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM begin_probe', []))[0]?.n;

  test('the first statement runs in the transaction: rolled back with it', async () => {
    await assert.rejects(
      t.db.transaction(async (tx) => {
        const inserted = await tx.query<{ id: number }>(
          'INSERT INTO begin_probe (id, note) VALUES ($1, $2) RETURNING id',
          [1, 'first'],
        );
        assert.deepEqual(inserted, [{ id: 1 }], 'the answer is the statement’s, not BEGIN’s');
        const [inside] = await tx.query<{ status: string; xid: string | null }>(
          `SELECT 'in' AS status, txid_current_if_assigned()::text AS xid`,
          [],
        );
        assert.ok(inside?.xid, 'the insert and this statement share one transaction');
        throw new Error('undo');
      }),
      /undo/,
    );
    assert.equal(await count(), 0);
  });

  test('a committed transaction keeps its first statement, one transaction id for all', async () => {
    const ids = await t.db.transaction(async (tx) => {
      const [first] = await tx.query<{ xid: string }>(
        `WITH i AS (INSERT INTO begin_probe (id) VALUES ($1)) SELECT txid_current()::text AS xid`,
        [2],
      );
      const [second] = await tx.query<{ xid: string }>('SELECT txid_current()::text AS xid', []);
      return [first?.xid, second?.xid];
    });
    assert.equal(ids[0], ids[1]);
    assert.equal(await count(), 1);
  });

  /** A pool of one connection on the test database: every transaction meets the same one. */
  async function oneConnection(): Promise<Database> {
    return openPostgres({ connectionString: t.url as string, poolSize: 1 });
  }
  const preparedCount = async (db: Database, text: string) =>
    (
      await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1',
        [text],
      )
    )[0]?.n;

  test('a first statement that does not parse fails alone, with its own error each time', async () => {
    const db = await oneConnection();
    try {
      const broken = 'SELECT $1::int + AS n';
      for (let i = 0; i < 2; i += 1) {
        await assert.rejects(
          db.transaction((tx) => tx.query(broken, [1])),
          { code: '42601' },
        );
      }
      const answers = await db.transaction(async (tx) => [
        await tx.query<{ n: number }>('SELECT $1::int + 1 AS n', [1]),
        await tx.query<{ n: number }>('SELECT $1::int + 2 AS n', [1]),
      ]);
      assert.deepEqual(answers, [[{ n: 2 }], [{ n: 3 }]]);
    } finally {
      await db.close();
    }
  });

  test('a first statement that fails at Bind or Execute: the same error again, naming stays on', async () => {
    // Each case on a fresh connection, so the failing use is the statement's first there:
    // its Parse succeeded and the server keeps it, whatever failed after.
    await t.db.query(`INSERT INTO begin_probe (id, note) VALUES (100, 'taken')`, []);
    const cases = [
      // A value the parameter's type refuses: Bind fails (22P02).
      {
        text: 'INSERT INTO begin_probe (id, note) VALUES ($1::int, $2)',
        values: ['x', 'a'],
        code: '22P02',
      },
      // A duplicate key: Execute fails (23505).
      {
        text: 'INSERT INTO begin_probe (note, id) VALUES ($2, $1::int)',
        values: [100, 'b'],
        code: '23505',
      },
    ];
    for (const [index, { text, values, code }] of cases.entries()) {
      const db = await oneConnection();
      try {
        for (let i = 0; i < 2; i += 1) {
          await assert.rejects(
            db.transaction((tx) => tx.query(text, values)),
            { code },
          );
        }
        await db.transaction((tx) => tx.query(text, [300 + index, 'ok']));
        assert.equal(await preparedCount(db, text), 1, `${code}: one named statement, reused`);
      } finally {
        await db.close();
      }
    }
  });

  test('a transaction that runs no statement sends no BEGIN: nothing is left open', async () => {
    const db = await openPostgres({
      connectionString: t.url as string,
      poolSize: 1,
      applicationName: 'begin-probe',
    });
    try {
      assert.equal(await db.transaction(async () => 'nothing to do'), 'nothing to do');
      // A BEGIN sent without its COMMIT would leave the connection idle in a transaction.
      const states = await t.db.query<{ state: string }>(
        `SELECT state FROM pg_stat_activity WHERE application_name = 'begin-probe'`,
        [],
      );
      assert.deepEqual(states, [{ state: 'idle' }]);
    } finally {
      await db.close();
    }
  });
});
