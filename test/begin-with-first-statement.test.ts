import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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

  test('a first statement that does not parse fails alone; the next transaction is fine', async () => {
    const broken = 'SELECT $1::int + AS n';
    await assert.rejects(
      t.db.transaction((tx) => tx.query(broken, [1])),
      { code: '42601' },
    );
    // The same text again still meets its syntax error (it was never recorded as parsed,
    // which would skip the Parse and meet "prepared statement does not exist" instead).
    await assert.rejects(
      t.db.transaction((tx) => tx.query(broken, [1])),
      { code: '42601' },
    );
    const answers = await t.db.transaction(async (tx) => [
      await tx.query<{ n: number }>('SELECT $1::int + 1 AS n', [1]),
      await tx.query<{ n: number }>('SELECT $1::int + 2 AS n', [1]),
    ]);
    assert.deepEqual(answers, [[{ n: 2 }], [{ n: 3 }]]);
  });

  test('a transaction that runs no statement commits nothing and returns its value', async () => {
    assert.equal(await t.db.transaction(async () => 'nothing to do'), 'nothing to do');
    assert.equal(
      await t.db.transaction(async (tx) => (await tx.query('SELECT 1 AS one', [])).length),
      1,
    );
  });
});
