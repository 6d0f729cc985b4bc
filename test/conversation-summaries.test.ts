import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { conversationsPageSql, foldConversationChanges } from '../src/db/conversations.js';
import type { Database, Queryable } from '../src/db/executor.js';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import { engines, postgresOnly, type TestDatabase } from './helpers/databases.js';

// Migration 0024: GET /conversations reads per-number summaries. The statements writing
// messages and outbound messages only append to conversation_changes; the reader folds
// those into the summaries first. Whatever the writes, each summary, once folded, must
// equal what a pass over all the rows gives (the query the inbox used before); writers never
// wait on a summary row (no deadlock between two writing in opposite orders), and page 1 must
// not read the messages table.

/** The summaries as a full pass over the rows computes them (the inbox's former query). */
async function fromScratch(db: Queryable) {
  const inbound = await db.query(
    `SELECT sender AS number, max(created_at) AS last_at,
            max(created_at) FILTER (WHERE from_number LIKE 'whatsapp:%') AS last_whatsapp_at,
            count(*)::int AS total,
            count(*) FILTER (WHERE processing_status = 'failed')::int AS failed,
            max(id)::bigint AS last_id
       FROM messages GROUP BY sender ORDER BY 1`,
  );
  const outbound = await db.query(
    `SELECT regexp_replace(to_number, '^[a-z]+:', '') AS number, max(created_at) AS last_at,
            count(*) FILTER (WHERE status IN ('failed', 'undelivered'))::int AS failed
       FROM outbound_messages GROUP BY 1 ORDER BY 1`,
  );
  return { inbound, outbound };
}

/** The summaries once every change so far is folded in, as the inbox reads them. */
async function summaries(db: Queryable) {
  await foldConversationChanges(db);
  return {
    inbound: await db.query(
      `SELECT number, last_at, last_whatsapp_at, total, failed, last_id::bigint AS last_id
         FROM conversation_inbound ORDER BY 1`,
    ),
    outbound: await db.query(
      'SELECT number, last_at, failed FROM conversation_outbound ORDER BY 1',
    ),
  };
}

const assertSummariesMatch = async (db: Queryable, step: string) =>
  assert.deepEqual(await summaries(db), await fromScratch(db), step);

let sids = 0;
/** Inbound messages in one multi-row INSERT, as group commit writes them. */
async function insertMessages(
  db: Queryable,
  rows: { from: string; body?: string; status?: string }[],
): Promise<number[]> {
  const values: string[] = [];
  const params: unknown[] = [];
  for (const row of rows) {
    sids += 1;
    params.push(`SM0024${sids}`, row.from, row.from.replace(/^[a-z]+:/, ''), row.body ?? 'hi');
    params.push(row.status ?? 'pending');
    const n = params.length;
    values.push(
      `($${n - 4}, $${n - 3}, 'whatsapp:+14155238886', $${n - 1}, $${n - 2}, $${n}::varchar)`,
    );
  }
  const inserted = await db.query<{ id: number }>(
    `INSERT INTO messages (message_sid, from_number, to_number, body, sender, processing_status)
     VALUES ${values.join(', ')} RETURNING id`,
    params,
  );
  return inserted.map((row) => Number(row.id));
}

async function insertOutbound(db: Queryable, to: string, status = 'pending'): Promise<number> {
  const [row] = await db.query<{ id: number }>(
    `INSERT INTO outbound_messages (kind, to_number, from_number, body, status)
     VALUES ('send', $1, 'whatsapp:+14155238886', 'hello', $2) RETURNING id`,
    [to, status],
  );
  return Number(row?.id);
}

for (const engine of engines) {
  describe(`conversation summaries (${engine.name})`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let db: Database;
    before(async () => {
      database = await engine.create({ migrate: false });
      db = database.db;
      await migrate(
        db,
        loadMigrations().filter((migration) => migration.version < 24),
      );
    });
    after(async () => {
      await database?.destroy();
    });

    test('the migration summarises the rows already there', async () => {
      await insertMessages(db, [
        { from: 'whatsapp:+15550240001' },
        { from: '+15550240001', status: 'failed' },
        { from: 'whatsapp:+15550240002', status: 'processed' },
      ]);
      await insertOutbound(db, 'whatsapp:+15550240001', 'undelivered');
      await insertOutbound(db, '+15550240001', 'delivered');
      await migrate(db);
      const { inbound, outbound } = await summaries(db);
      assert.equal(inbound.length, 2);
      assert.equal(outbound.length, 1, 'one number across channels');
      await assertSummariesMatch(db, 'after the migration');
    });

    test('inserts, failures and their retries, and deletions keep every summary exact', async () => {
      const ids = await insertMessages(db, [
        { from: 'whatsapp:+15550240003', body: 'first' },
        { from: 'whatsapp:+15550240003', body: 'second' },
        { from: '+15550240004' },
        { from: 'whatsapp:+15550240001' },
      ]);
      await assertSummariesMatch(db, 'a batch of inserts');

      const setStatus = (id: number, status: string) =>
        db.query('UPDATE messages SET processing_status = $2 WHERE id = $1', [id, status]);
      await setStatus(ids[0] as number, 'processing');
      await setStatus(ids[0] as number, 'failed');
      await assertSummariesMatch(db, 'a message failed');
      await setStatus(ids[0] as number, 'pending');
      await setStatus(ids[0] as number, 'processed');
      await assertSummariesMatch(db, 'reprocessed');

      const sent = await insertOutbound(db, 'whatsapp:+15550240003');
      await db.query(`UPDATE outbound_messages SET status = 'failed' WHERE id = $1`, [sent]);
      await assertSummariesMatch(db, 'a send failed');
      await db.query(`UPDATE outbound_messages SET status = 'pending' WHERE id = $1`, [sent]);
      await db.query(`UPDATE outbound_messages SET status = 'undelivered' WHERE id = $1`, [sent]);
      await assertSummariesMatch(db, 'retried, then undelivered');
      await db.query(`UPDATE outbound_messages SET to_number = '+15550240004' WHERE id = $1`, [
        sent,
      ]);
      await assertSummariesMatch(db, 'a send to another number');

      // A person deleted: their messages go, by number, and so do the sends to them.
      await db.query(`DELETE FROM messages WHERE sender = '+15550240003'`);
      await db.query(
        `DELETE FROM outbound_messages WHERE to_number IN ('+15550240001', 'whatsapp:+15550240001')`,
      );
      await assertSummariesMatch(db, 'deletions');
      await db.query('DELETE FROM messages WHERE id = $1', [ids[3]]);
      await assertSummariesMatch(db, 'the newest message of a number deleted');
    });

    test(
      'concurrent batches for the same people add up, in any order, without a deadlock',
      { skip: postgresOnly(engine) },
      async () => {
        const senders = ['+15550240010', '+15550240011', '+15550240012', '+15550240013'];
        await Promise.all(
          Array.from({ length: 8 }, (_, batch) =>
            db.transaction(async (tx) => {
              const order = batch % 2 === 0 ? senders : [...senders].reverse();
              await insertMessages(
                tx,
                order.map((from) => ({ from: `whatsapp:${from}` })),
              );
            }),
          ),
        );
        await foldConversationChanges(db);
        const rows = await db.query<{ total: number }>(
          'SELECT total FROM conversation_inbound WHERE number = ANY($1::text[])',
          [senders],
        );
        assert.deepEqual(
          rows.map((row) => row.total),
          [8, 8, 8, 8],
        );
        await assertSummariesMatch(db, 'after concurrent batches');
      },
    );

    test(
      'two transactions writing to the same two numbers in opposite orders both commit (no 40P01)',
      { skip: postgresOnly(engine) },
      async () => {
        const [x, y] = ['+15550240020', '+15550240021'];
        /**
         * Two transactions, each writing `first(number)` and then, once the other has written
         * too (so each holds whatever its first write locked), the other number: a proof's
         * shares and its reply, two inbound batches. A write that waited for the other's
         * summary row would deadlock here.
         */
        const crossed = async (write: (tx: Queryable, number: string) => Promise<unknown>) => {
          let wroteA!: () => void;
          let wroteB!: () => void;
          const aFirst = new Promise<void>((resolve) => (wroteA = resolve));
          const bFirst = new Promise<void>((resolve) => (wroteB = resolve));
          await Promise.all([
            db.transaction(async (tx) => {
              await write(tx, x);
              wroteA();
              await bFirst;
              await write(tx, y);
            }),
            db.transaction(async (tx) => {
              await write(tx, y);
              wroteB();
              await aFirst;
              await write(tx, x);
            }),
          ]);
        };

        await crossed((tx, number) => insertOutbound(tx, `whatsapp:${number}`));
        await assertSummariesMatch(db, 'sends in opposite orders');

        // Inbound processing failing for both people, in opposite orders: two messages each.
        const ids = await insertMessages(db, [
          { from: `whatsapp:${x}` },
          { from: `whatsapp:${x}` },
          { from: `whatsapp:${y}` },
          { from: `whatsapp:${y}` },
        ]);
        await assertSummariesMatch(db, 'the messages stored');
        const unfailed = new Map([
          [x, [ids[0], ids[1]]],
          [y, [ids[2], ids[3]]],
        ]);
        await crossed((tx, number) =>
          tx.query(`UPDATE messages SET processing_status = 'failed' WHERE id = $1`, [
            unfailed.get(number)?.shift(),
          ]),
        );
        await foldConversationChanges(db);
        const failed = await db.query<{ number: string; failed: number }>(
          `SELECT number, failed FROM conversation_inbound WHERE number = ANY($1::text[])
            ORDER BY number`,
          [[x, y]],
        );
        assert.deepEqual(failed, [
          { number: x, failed: 2 },
          { number: y, failed: 2 },
        ]);
        await assertSummariesMatch(db, 'failures in opposite orders');
      },
    );

    test(
      'a write does not wait for a fold in progress, and the next fold counts it',
      { skip: postgresOnly(engine) },
      async () => {
        const x = '+15550240030';
        const [kept, deleted] = await insertMessages(db, [
          { from: `whatsapp:${x}`, body: 'kept' },
          { from: `whatsapp:${x}`, body: 'deleted' },
        ]);
        const sent = await insertOutbound(db, `whatsapp:${x}`);
        let folded!: () => void;
        const foldedOpen = new Promise<void>((resolve) => (folded = resolve));
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        // A fold left open: it holds its lock and x's summary rows until it commits.
        const holder = db.transaction(async (tx) => {
          assert.ok((await foldConversationChanges(tx)) > 0);
          folded();
          await released;
        });
        await foldedOpen;
        await insertMessages(db, [{ from: `whatsapp:${x}`, body: 'newer' }]);
        await insertOutbound(db, x, 'failed');
        await db.query(`UPDATE messages SET processing_status = 'failed' WHERE id = $1`, [kept]);
        await db.query(`UPDATE outbound_messages SET status = 'undelivered' WHERE id = $1`, [sent]);
        await db.query('DELETE FROM messages WHERE id = $1', [deleted]);
        release();
        await holder;
        await assertSummariesMatch(db, 'the writes made while a fold was open');
      },
    );

    test(
      'writes, deletions and folds at once still add up',
      { skip: postgresOnly(engine) },
      async () => {
        const numbers = ['+15550240040', '+15550240041', '+15550240042'];
        const seeded = await insertMessages(
          db,
          numbers.flatMap((from) => [{ from: `whatsapp:${from}` }, { from }]),
        );
        await Promise.all([
          ...Array.from({ length: 6 }, (_, i) =>
            db.transaction(async (tx) => {
              const order = i % 2 === 0 ? numbers : [...numbers].reverse();
              await insertMessages(
                tx,
                order.map((from) => ({ from: `whatsapp:${from}` })),
              );
              for (const number of order) await insertOutbound(tx, `whatsapp:${number}`);
            }),
          ),
          ...seeded
            .filter((_, i) => i % 2 === 1)
            .map((id) => db.query('DELETE FROM messages WHERE id = $1', [id])),
          db.query(`DELETE FROM outbound_messages WHERE to_number = 'whatsapp:' || $1`, [
            numbers[0],
          ]),
          ...Array.from({ length: 4 }, () => foldConversationChanges(db)),
        ]);
        await assertSummariesMatch(db, 'after writes, deletions and folds at once');
      },
    );

    test(
      'page 1 reads no message but the ones it shows (EXPLAIN: no Seq Scan on messages)',
      { skip: postgresOnly(engine) },
      async () => {
        // 40,000 messages from 400 people, 4 sends each: a history far larger than a page.
        await db.query(
          `INSERT INTO messages (message_sid, from_number, to_number, body, sender)
           SELECT 'SMplan' || g, 'whatsapp:+1555' || lpad((g % 400)::text, 7, '0'),
                  'whatsapp:+14155238886', 'message ' || g, '+1555' || lpad((g % 400)::text, 7, '0')
             FROM generate_series(1, 40000) g`,
        );
        await db.query(
          `INSERT INTO outbound_messages (kind, to_number, from_number, body)
           SELECT 'send', 'whatsapp:+1555' || lpad((g % 400)::text, 7, '0'),
                  'whatsapp:+14155238886', 'reply ' || g
             FROM generate_series(1, 1600) g`,
        );
        await db.exec('ANALYZE');
        const sql = conversationsPageSql({ limit: 30, offset: 0, search: null, filter: null });
        const plan = (
          await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql.page}`, sql.pageParams)
        )
          .map((row) => row['QUERY PLAN'])
          .join('\n');
        assert.doesNotMatch(plan, /Seq Scan on messages/, plan);
        assert.doesNotMatch(plan, /Seq Scan on outbound_messages/, plan);
        assert.match(plan, /conversation_inbound/, plan);
        const count = (await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql.count}`, sql.params))
          .map((row) => row['QUERY PLAN'])
          .join('\n');
        assert.doesNotMatch(count, /on messages|on outbound_messages/, count);
        await assertSummariesMatch(db, 'after the bulk insert');
      },
    );
  });
}
