import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Database, Queryable } from '../src/db/executor.js';
import { RUN_ALONE, setBatches } from '../src/db/transaction-batches.js';
import { engines, type TestDatabase } from './helpers/databases.js';

/** `db` that counts the transactions it opens. */
const counting = (db: Database) => {
  const counted = {
    transactions: 0,
    db: {
      ...db,
      engine: db.engine,
      maxConcurrency: db.maxConcurrency,
      query: <Row>(sql: string, params?: readonly unknown[]) => db.query<Row>(sql, params),
      exec: (sql: string) => db.exec(sql),
      listen: (channel: string, onNotify: () => void) => db.listen(channel, onNotify),
      close: () => db.close(),
      transaction: <T>(work: (tx: Queryable) => Promise<T>) => {
        counted.transactions += 1;
        return db.transaction(work);
      },
    } satisfies Database,
  };
  return counted;
};

type Work<T> = (tx: Queryable) => Promise<T>;

/**
 * Arbitrary works batched by setBatches: the works of a batch run one after another in its
 * shared transaction, ordered by their lock order (same key: arrival order).
 */
const transactionBatches = (db: Database) => {
  const batches = setBatches<{ work: Work<unknown>; lockOrder: string }, unknown>(db, {
    async together(tx, works) {
      const done: unknown[] = [];
      for (const { work } of works) done.push(await work(tx));
      return done;
    },
    alone: (tx, { work }) => work(tx),
    lockOrder: ({ lockOrder }) => lockOrder,
  });
  return {
    run: <T>(work: Work<T>, placement: { lockOrder?: string } = {}) =>
      batches.run({ work, lockOrder: placement.lockOrder ?? '' }) as Promise<T>,
  };
};

const insert = (n: number) => async (tx: Queryable) => {
  await tx.query('INSERT INTO batch_probe (n) VALUES ($1)', [n]);
  return n * 10;
};

for (const engine of engines) {
  describe(`transaction batches [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await engine.create({ migrate: false });
      await t.db.exec('CREATE TABLE batch_probe (n int PRIMARY KEY)');
    });
    after(async () => t?.destroy());
    beforeEach(async () => {
      await t.db.exec('DELETE FROM batch_probe');
    });

    const stored = async () =>
      (await t.db.query<{ n: number }>('SELECT n FROM batch_probe ORDER BY n')).map((r) => r.n);

    test('works that ask at once share one transaction, and each gets its own result', async () => {
      const c = counting(t.db);
      const batches = transactionBatches(c.db);
      const results = await Promise.all([1, 2, 3, 4].map((n) => batches.run(insert(n))));
      assert.deepEqual(results, [10, 20, 30, 40]);
      assert.equal(c.transactions, 1);
      assert.deepEqual(await stored(), [1, 2, 3, 4]);
    });

    test('a batch runs its works in lock order (same key: arrival order), each still gets its own result', async () => {
      const c = counting(t.db);
      const batches = transactionBatches(c.db);
      const ran: string[] = [];
      const keyed = (key: string, n: number) =>
        batches.run(
          async (tx) => {
            ran.push(`${key}${n}`);
            return insert(n)(tx);
          },
          { lockOrder: key },
        );
      const results = await Promise.all([
        keyed('+3', 1),
        keyed('+1', 2),
        keyed('+3', 3),
        keyed('+2', 4),
      ]);
      assert.deepEqual(results, [10, 20, 30, 40]);
      assert.deepEqual(ran, ['+12', '+24', '+31', '+33']);
      assert.equal(c.transactions, 1);
    });

    test('a work that swallows a failed statement is not reported committed, nor does it take its batch down', async () => {
      await t.db.query('INSERT INTO batch_probe (n) VALUES (3)');
      const batches = transactionBatches(t.db);
      const swallowing = async (tx: Queryable) => {
        await tx.query('INSERT INTO batch_probe (n) VALUES (3)').catch(() => undefined);
        return 0;
      };
      const outcomes = await Promise.allSettled([
        batches.run(insert(1)),
        batches.run(swallowing),
        batches.run(insert(2)),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.deepEqual(await stored(), [1, 2, 3]);
    });

    test('a failing work fails alone: the others of its batch commit, its writes do not', async () => {
      await t.db.query('INSERT INTO batch_probe (n) VALUES (3)');
      const c = counting(t.db);
      const batches = transactionBatches(c.db);
      const failing = async (tx: Queryable) => {
        await tx.query('INSERT INTO batch_probe (n) VALUES (5)');
        await tx.query('INSERT INTO batch_probe (n) VALUES (3)'); // duplicate key
        return 0;
      };
      const outcomes = await Promise.allSettled([
        batches.run(insert(1)),
        batches.run(insert(2)),
        batches.run(failing),
        batches.run(insert(4)),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
      );
      const error = (outcomes[2] as PromiseRejectedResult).reason as { code?: string };
      assert.equal(error.code, '23505');
      // The batch, rolled back, then each work in a transaction of its own.
      assert.equal(c.transactions, 1 + 4);
      assert.deepEqual(await stored(), [1, 2, 3, 4]);
    });

    test('works that ask while a batch runs share the next transaction', async () => {
      const c = counting(t.db);
      const batches = transactionBatches(c.db);
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered: () => void = () => {};
      const inFirst = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const first = batches.run(async (tx) => {
        entered();
        await held;
        return insert(1)(tx);
      });
      await inFirst;
      const later = [2, 3, 4].map((n) => batches.run(insert(n)));
      assert.equal(c.transactions, 1);
      release();
      assert.deepEqual(await Promise.all([first, ...later]), [10, 20, 30, 40]);
      assert.equal(c.transactions, 2);
      assert.deepEqual(await stored(), [1, 2, 3, 4]);
    });

    test('a set batch: inputs its together leaves alone run alone after it committed', async () => {
      const c = counting(t.db);
      const order: string[] = [];
      const batches = setBatches<number, number>(c.db, {
        async together(tx, inputs) {
          const even = inputs.filter((n) => n % 2 === 0);
          await tx.query('INSERT INTO batch_probe (n) SELECT unnest($1::int[])', [even]);
          order.push(`together ${even.join(',')}`);
          return inputs.map((n) => (n % 2 === 0 ? n * 10 : RUN_ALONE));
        },
        async alone(tx, n) {
          order.push(`alone ${n}`);
          await insert(n)(tx);
          return n * 100;
        },
      });
      const results = await Promise.all([1, 2, 3, 4].map((n) => batches.run(n)));
      assert.deepEqual(results, [100, 20, 300, 40]);
      assert.deepEqual(order, ['together 2,4', 'alone 1', 'alone 3']);
      assert.equal(c.transactions, 3);
      assert.deepEqual(await stored(), [1, 2, 3, 4]);
    });
  });
}
