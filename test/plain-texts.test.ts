import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database, Queryable } from '../src/db/executor.js';
import { type ClaimedMessage, inboundQueue } from '../src/db/message-queue.js';
import { createTask } from '../src/db/tasks.js';
import { findSendersWithPendingTasks } from '../src/db/plain-texts.js';
import { createUser, findSenderRecordingInbound } from '../src/db/users.js';
import { processInboundJob } from '../src/jobs/process-inbound.js';
import { ClaimLostError } from '../src/domain/processing-errors.js';
import { replyTexts } from '../src/services/reply-texts.js';
import { engines, type TestDatabase } from './helpers/databases.js';
import { newWorker, storeMessages, wrapTransactions } from './helpers/worker.js';

// Plain texts (no media, no command) that are ready together are answered together
// (src/services/plain-texts.ts): a few statements for the whole batch, each reply the one
// the message would get alone, and a lost claim or a command among them changes nothing
// for the others.

let phoneSeq = 0;
const newPhone = () =>
  `+1556${String(process.pid % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;

const noCopy = async () => {
  throw new Error('no media in these tests');
};

async function person(db: Database, withTask: boolean) {
  const phone = newPhone();
  const user = await createUser(db, { username: `p${phoneSeq}`, phone_number: phone });
  const task = withTask
    ? await createTask(
        db,
        {
          user_id: user.id,
          description: `Run 5k ${phoneSeq}`,
          due_time: new Date(Date.now() + 3_600_000),
          points: 10,
        },
        { offsets: [60, 15], now: new Date() },
      )
    : null;
  return { phone, userId: Number(user.id), task };
}

/** `db` whose transactions count their statements (BEGIN and COMMIT not included). */
function countingStatements(db: Database) {
  const counted = { transactions: 0, statements: [] as string[] };
  const wrapped = wrapTransactions(db, async (tx): Promise<Queryable> => {
    counted.transactions += 1;
    return {
      query: <Row>(sql: string, params?: readonly unknown[]) => {
        counted.statements.push(sql);
        return tx.query<Row>(sql, params);
      },
      exec: (sql: string) => tx.exec(sql),
    };
  });
  return { counted, db: wrapped };
}

const repliesTo = async (db: Database, ids: number[]) =>
  db.query<{ inbound_message_id: number; body: string; to_number: string }>(
    `SELECT inbound_message_id, body, to_number FROM outbound_messages
     WHERE inbound_message_id = ANY($1::bigint[]) ORDER BY inbound_message_id`,
    [ids],
  );

for (const engine of engines) {
  describe(`plain texts answered together [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await engine.create();
    });
    after(async () => t?.destroy());

    test('twenty plain texts taken together: one transaction, two statements, one right reply each', async () => {
      const people = await Promise.all(
        Array.from({ length: 20 }, (_, i) => person(t.db, i % 2 === 0)),
      );
      const ids = await storeMessages(
        t.db,
        people.map((p, i) => ({ from: p.phone, body: i % 3 === 0 ? 'hi' : 'Done?' })),
      );
      const { counted, db } = countingStatements(t.db);
      const job = processInboundJob({
        db,
        copyMedia: noCopy,
        accountability: { autoRegister: true },
      });
      const worker = newWorker(t.db, job, { concurrency: 32 });
      assert.equal(await worker.runUntilIdle(), 20);

      assert.equal(counted.transactions, 1);
      assert.equal(counted.statements.length, 2, counted.statements.join('\n---\n'));
      const replies = await repliesTo(t.db, ids);
      assert.equal(replies.length, 20);
      replies.forEach((reply, i) => {
        const p = people[i];
        assert.ok(p);
        assert.equal(reply.to_number, `whatsapp:${p.phone}`);
        if (p.task) assert.ok(reply.body.includes(p.task.description), reply.body);
        else assert.equal(reply.body, replyTexts.noTask());
      });
      const recorded = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM users
         WHERE id = ANY($1::bigint[]) AND last_inbound_at IS NOT NULL
           AND last_whatsapp_inbound_at IS NOT NULL`,
        [people.map((p) => p.userId)],
      );
      assert.equal(recorded[0]?.n, 20);
      const processed = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messages
         WHERE id = ANY($1::bigint[]) AND processing_status = 'processed'`,
        [ids],
      );
      assert.equal(processed[0]?.n, 20);
    });

    test('a command, a newcomer and plain texts in one batch: each answered as alone', async () => {
      const [commander, planner, idle] = await Promise.all([
        person(t.db, false),
        person(t.db, true),
        person(t.db, false),
      ]);
      assert.ok(commander && planner && idle);
      const newcomer = newPhone();
      const ids = await storeMessages(t.db, [
        // Creates a task, then asks: the plain text after the command sees the new task.
        { from: commander.phone, body: 'new Stretch tomorrow 9am' },
        { from: commander.phone, body: 'ok?' },
        { from: planner.phone, body: 'hello' },
        { from: newcomer, body: 'hi', profileName: 'Newt' },
        { from: idle.phone, body: 'anything?' },
      ]);
      const job = processInboundJob({
        db: t.db,
        copyMedia: noCopy,
        accountability: { autoRegister: true },
      });
      const worker = newWorker(t.db, job, { concurrency: 32 });
      assert.equal(await worker.runUntilIdle(), 5);
      const replies = await repliesTo(t.db, ids);
      assert.equal(replies.length, 5);
      const [created, ok, hello, welcome, anything] = replies.map((r) => r.body);
      assert.match(created ?? '', /Stretch/);
      assert.match(ok ?? '', /Stretch/, 'the plain text after the command sees its task');
      assert.match(hello ?? '', /Run 5k/);
      assert.match(welcome ?? '', /Newt/);
      assert.equal(anything, replyTexts.noTask());
    });

    test('commands and newcomers run in their own transactions once the plain texts committed', async () => {
      const [plain, commander] = await Promise.all([person(t.db, true), person(t.db, false)]);
      assert.ok(plain && commander);
      const ids = await storeMessages(t.db, [
        { from: plain.phone, body: 'hello' },
        { from: commander.phone, body: 'points' },
        { from: newPhone(), body: 'hi', profileName: 'Nia' },
      ]);
      // Each transaction's statements, in the order the transactions began.
      const transactions: string[][] = [];
      const db = wrapTransactions(t.db, async (tx): Promise<Queryable> => {
        const statements: string[] = [];
        transactions.push(statements);
        return {
          query: <Row>(sql: string, params?: readonly unknown[]) => {
            statements.push(sql);
            return tx.query<Row>(sql, params);
          },
          exec: (sql: string) => tx.exec(sql),
        };
      });
      const job = processInboundJob({
        db,
        copyMedia: noCopy,
        accountability: { autoRegister: true },
      });
      const worker = newWorker(t.db, job, { concurrency: 32 });
      assert.equal(await worker.runUntilIdle(), 3);
      // The batch: the plain texts' two statements, and no lookup of anyone else in it (in
      // the batch, their user-row locks would follow the set statement's, an order another
      // process's batch may take the other way round).
      assert.equal(transactions.length, 3);
      assert.equal(transactions[0]?.length, 2);
      assert.equal((await repliesTo(t.db, ids)).length, 3);
    });

    test('senders found as findSenderRecordingInbound finds them, with their pending task', async () => {
      const byPhone = await person(t.db, true);
      const username = `US.${process.pid}${phoneSeq}`;
      const byId = await createUser(t.db, {
        username: 'wa',
        phone_number: null,
        whatsapp_id: username,
      });
      const unknown = newPhone();
      const at = new Date('2026-12-01T10:00:00Z');
      const found = await findSendersWithPendingTasks(t.db, [
        { sender: byPhone.phone, at, channel: 'whatsapp' },
        { sender: username, at, channel: 'sms' },
        { sender: unknown, at, channel: 'whatsapp' },
        // The same sender twice: recorded once, at the later time.
        { sender: byPhone.phone, at: new Date(at.getTime() + 60_000), channel: 'sms' },
      ]);
      assert.deepEqual([...found.keys()].sort(), [byPhone.phone, username].sort());
      assert.equal(found.get(byPhone.phone)?.task?.id, byPhone.task?.id);
      assert.equal(found.get(username)?.task, null);
      assert.equal(found.get(username)?.user.id, byId.id);
      const phoneUser = found.get(byPhone.phone)?.user;
      assert.equal(phoneUser?.last_inbound_at?.toISOString(), '2026-12-01T10:01:00.000Z');
      assert.equal(phoneUser?.last_whatsapp_inbound_at?.toISOString(), at.toISOString());
      // The one-by-one lookup agrees on who each sender is.
      const alone = await findSenderRecordingInbound(t.db, byPhone.phone, { at, channel: 'sms' });
      assert.equal(alone?.id, phoneUser?.id);
    });

    test('a lost claim among the texts: only that one is lost, the others are answered', async () => {
      const people = await Promise.all([1, 2, 3, 4].map(() => person(t.db, true)));
      const ids = await storeMessages(
        t.db,
        people.map((p) => ({ from: p.phone, body: 'done' })),
      );
      const claimed = (await inboundQueue.claim(t.db, 10, 60_000)).filter((m) =>
        ids.includes(m.id),
      );
      assert.equal(claimed.length, 4);
      // Another worker took the third over: this claim is stale.
      const stale = claimed[2] as ClaimedMessage;
      await t.db.query('UPDATE messages SET claims = claims + 1 WHERE id = $1', [stale.id]);
      const job = processInboundJob({
        db: t.db,
        copyMedia: noCopy,
        accountability: { autoRegister: true },
      });
      const outcomes = await Promise.allSettled(claimed.map((message) => job(message)));
      outcomes.forEach((outcome, i) => {
        if (claimed[i] === stale) {
          assert.equal(outcome.status, 'rejected');
          assert.ok((outcome as PromiseRejectedResult).reason instanceof ClaimLostError);
        } else assert.equal(outcome.status, 'fulfilled');
      });
      const replies = await repliesTo(t.db, ids);
      assert.deepEqual(
        replies.map((r) => r.inbound_message_id),
        ids.filter((id) => id !== stale.id),
      );
    });
  });
}
