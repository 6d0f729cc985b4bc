import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { statementNames } from '../src/db/prepared-statements.js';
import { postgres, type TestDatabase } from './helpers/databases.js';

// On Postgres every statement with parameters is a named prepared statement, parsed and
// planned once per connection (src/db/prepared-statements.ts); when the server does not
// keep a name (a transaction-mode pooler, DEALLOCATE), the process stops naming and the
// statements go on working unnamed.

const preparedHere = `SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'tw\\_%'`;

describe('prepared statements [postgres]', { skip: postgres.skip }, () => {
  let t: TestDatabase;
  before(async () => {
    t = await postgres.create();
  });
  after(async () => t?.destroy());

  test('a statement with parameters is prepared once on its connection and reused', async () => {
    await t.db.transaction(async (tx) => {
      const before = (await tx.query<{ n: number }>(preparedHere, []))[0]?.n ?? 0;
      for (const id of [1, 2, 3]) {
        await tx.query('SELECT id FROM users WHERE id = $1', [id]);
      }
      // (The count, run with a parameter list, is a named statement too: in `before` already.)
      const now = (await tx.query<{ n: number }>(preparedHere, []))[0]?.n ?? 0;
      assert.equal(now - before, 1, 'one more named statement, for three executions');
      const [row] = await tx.query<{ statement: string }>(
        `SELECT statement FROM pg_prepared_statements
         WHERE statement = 'SELECT id FROM users WHERE id = $1'`,
        [],
      );
      assert.ok(row, 'the SELECT is among the prepared statements');
    });
  });

  test('a statement the server lost turns naming off: it fails once, then works unnamed', async () => {
    const sql = 'SELECT $1::int + 1 AS n';
    // (The transaction its failed statement aborted is refused at its end, as any is.)
    await assert.rejects(
      t.db.transaction(async (tx) => {
        assert.deepEqual(await tx.query(sql, [1]), [{ n: 2 }]);
        // What a transaction-mode pooler does: the next statement meets a backend that never
        // saw the name. The client still believes it is prepared.
        await tx.exec('DEALLOCATE ALL');
        await assert.rejects(tx.query(sql, [1]), { code: '26000' });
      }),
      /rolled back/,
    );
    // Every connection of the pool, and new statements too, run unnamed from now on.
    for (let i = 0; i < 12; i += 1) {
      assert.deepEqual(await t.db.query(sql, [i]), [{ n: i + 1 }]);
    }
    await t.db.transaction(async (tx) => {
      await tx.exec('DEALLOCATE ALL');
      await tx.query('SELECT $1::text AS fresh', ['x']);
      assert.equal((await tx.query<{ n: number }>(preparedHere, []))[0]?.n, 0);
    });
  });
});

describe('statementNames', () => {
  test('names by text, leaves statements without parameters unnamed, caps the names', () => {
    const names = statementNames();
    const a = names.config('SELECT $1', [1]);
    assert.match(a.name ?? '', /^tw_[0-9a-f]{24}$/);
    assert.equal(names.config('SELECT $1', [2]).name, a.name);
    assert.notEqual(names.config('SELECT $1 + 0', [2]).name, a.name);
    assert.equal(names.config('BEGIN', undefined).name, undefined);
    for (let i = 0; i < 1100; i += 1) names.config(`SELECT ${i} + $1`, [i]);
    assert.equal(names.config('SELECT 1099 + $1', [1]).name, undefined, 'beyond the cap: unnamed');
    assert.equal(names.config('SELECT $1', [3]).name, a.name, 'the named ones stay named');
  });

  test('only the errors of a refused name turn naming off', () => {
    const names = statementNames();
    names.failed(Object.assign(new Error('duplicate key'), { code: '23505' }));
    names.failed(new Error('Connection terminated unexpectedly'));
    assert.equal(names.enabled, true);
    names.failed(
      Object.assign(new Error('cached plan must not change result type'), { code: '0A000' }),
    );
    assert.equal(names.enabled, false);
    assert.equal(names.config('SELECT $1', [1]).name, undefined);
  });
});
