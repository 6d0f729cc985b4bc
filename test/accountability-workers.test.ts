import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database, Queryable } from '../src/db/executor.js';
import { type ClaimedMessage, requeueMessage } from '../src/db/message-queue.js';
import { createTask } from '../src/db/tasks.js';
import { createUser } from '../src/db/users.js';
import {
  type CopyMedia,
  PHOTO_TRANSACTIONS,
  processInboundJob,
} from '../src/jobs/process-inbound.js';
import { engines, postgres, type TestDatabase } from './helpers/databases.js';
import { newWorker, storeMessages, wrapTransactions } from './helpers/worker.js';

// The accountability loop as the workers run it (the inbound job, src/jobs/process-inbound.ts,
// with the loop in its transaction), with several workers on one database claiming
// messages at the same time.

const GROUP_NUMBER = '+14155238886';

const photo = (n: number) => ({
  url: `https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM${n}/Media/ME${n}`,
  contentType: 'image/jpeg',
});

/** Stands in for the copy into the bucket: every item becomes a stored JPEG. */
const copyJpeg =
  (delayMs = 0): CopyMedia =>
  async (_item, target) => {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return {
      key: `messages/${target.messageSid}/${target.index}.jpg`,
      size: 1024,
      content_type: 'image/jpeg',
      url: `http://storage.test/notes/messages/${target.messageSid}/${target.index}.jpg`,
    };
  };

/** The inbound job with AUTO_REGISTER; `inTransaction` runs first in its transaction. */
const handlerFor = (
  db: Database,
  copyMedia: CopyMedia,
  inTransaction?: (tx: Queryable) => Promise<void>,
) =>
  processInboundJob({
    db: inTransaction
      ? wrapTransactions(db, async (tx) => {
          await inTransaction(tx);
          return tx;
        })
      : db,
    copyMedia,
    accountability: { autoRegister: true },
  });

let phoneSeq = 0;
const newPhone = () =>
  `+1555${String(process.pid % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;

async function userWithTask(db: Database, points: number) {
  const phone = newPhone();
  const user = await createUser(db, { username: `u${phoneSeq}`, phone_number: phone });
  const task = await createTask(
    db,
    {
      user_id: user.id,
      description: `Task of ${phone}`,
      due_time: new Date(Date.now() + 3_600_000),
      points,
    },
    { offsets: [60, 15], now: new Date() },
  );
  assert.ok(task);
  return { phone, userId: Number(user.id), taskId: Number(task.id), points };
}

const count = async (db: Database, sql: string, params: unknown[] = []) =>
  (await db.query<{ n: number }>(sql, params))[0]?.n ?? -1;

/** Resolves once `parties` callers wait on it (or after `timeoutMs`, so a bug cannot hang the test). */
function barrier(parties: number, timeoutMs = 5_000) {
  let arrived = 0;
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const timer = setTimeout(() => open(), timeoutMs);
  return async () => {
    arrived += 1;
    if (arrived >= parties) {
      clearTimeout(timer);
      open();
    }
    await opened;
  };
}

describe('two workers on Postgres run the accountability loop', { skip: postgres.skip }, () => {
  let t: TestDatabase;
  before(async () => {
    t = await postgres.create();
  });
  after(async () => t?.destroy());

  test('30 users, 30 photos: 30 posts, each user earns exactly their task points, 30 replies; re-processing everything changes nothing, even with a new task waiting', async () => {
    const people: Awaited<ReturnType<typeof userWithTask>>[] = [];
    for (let i = 0; i < 30; i += 1) people.push(await userWithTask(t.db, 5 + i));
    const ids = await storeMessages(
      t.db,
      people.map((p, i) => ({
        from: p.phone,
        to: GROUP_NUMBER,
        body: `proof ${i}`,
        media: [photo(i)],
      })),
    );
    const userIds = people.map((p) => p.userId);

    const seen = new Map<number, number>();
    const handler = handlerFor(t.db, copyJpeg(5));
    const counted = async (message: ClaimedMessage) => {
      seen.set(message.id, (seen.get(message.id) ?? 0) + 1);
      await handler(message);
    };
    const runBoth = () =>
      Promise.all([
        newWorker(t.db, counted, { concurrency: 5 }).runUntilIdle(),
        newWorker(t.db, counted, { concurrency: 5 }).runUntilIdle(),
      ]);

    const expectOutcome = async (label: string) => {
      assert.equal(
        await count(t.db, 'SELECT count(*)::int AS n FROM feed WHERE user_id = ANY($1::bigint[])', [
          userIds,
        ]),
        30,
        `${label}: one feed post per user`,
      );
      assert.equal(
        await count(
          t.db,
          `SELECT count(DISTINCT task_id)::int AS n FROM feed WHERE message_id = ANY($1::bigint[])`,
          [ids],
        ),
        30,
        `${label}: each post is for a different task and a different message`,
      );
      const points = await t.db.query<{ id: number; points: number }>(
        'SELECT id, points FROM users WHERE id = ANY($1::bigint[])',
        [userIds],
      );
      const byId = new Map(points.map((row) => [Number(row.id), row.points]));
      for (const person of people) {
        assert.equal(byId.get(person.userId), person.points, `${label}: points of ${person.phone}`);
      }
      assert.equal(
        await count(
          t.db,
          `SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1::bigint[]) AND status = 'completed'`,
          [people.map((p) => p.taskId)],
        ),
        30,
        `${label}: every task completed`,
      );
      assert.equal(
        await count(
          t.db,
          `SELECT count(*)::int AS n FROM outbound_messages
           WHERE kind = 'reply' AND inbound_message_id = ANY($1::bigint[])`,
          [ids],
        ),
        30,
        `${label}: one reply per message`,
      );
      assert.equal(
        await count(t.db, 'SELECT count(*)::int AS n FROM outbound_messages'),
        30,
        `${label}: no other outbound message`,
      );
      assert.equal(
        await count(
          t.db,
          `SELECT count(*)::int AS n FROM messages
           WHERE id = ANY($1::bigint[]) AND processed AND processing_status = 'processed'`,
          [ids],
        ),
        30,
        `${label}: every message processed`,
      );
    };

    await runBoth();
    assert.equal(seen.size, 30);
    assert.ok(
      [...seen.values()].every((n) => n === 1),
      'no message processed twice',
    );
    await expectOutcome('first delivery');
    const replies = await t.db.query<{ to_number: string; from_number: string; body: string }>(
      `SELECT to_number, from_number, body FROM outbound_messages ORDER BY id`,
    );
    for (const reply of replies) {
      assert.equal(reply.from_number, `whatsapp:${GROUP_NUMBER}`);
      assert.match(reply.body, /is done! \+\d+ points/);
    }

    // Deliver every message again: the workers process them a second time. Each user now
    // has a new active task, which a re-processed photo must not complete either.
    const laterTasks: number[] = [];
    for (const person of people) {
      const later = await createTask(
        t.db,
        {
          user_id: person.userId,
          description: 'A later task',
          due_time: new Date(Date.now() + 7_200_000),
          points: 100,
        },
        { offsets: [], now: new Date() },
      );
      assert.ok(later);
      laterTasks.push(Number(later.id));
    }
    for (const id of ids) assert.ok(await requeueMessage(t.db, id), `message ${id} requeued`);
    seen.clear();
    await runBoth();
    assert.equal(seen.size, 30, 'every message was processed again');
    await expectOutcome('after re-processing');
    assert.equal(
      await count(
        t.db,
        `SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1::bigint[]) AND status = 'active'`,
        [laterTasks],
      ),
      30,
      'the later tasks are still active',
    );
  });

  test('photos copied at once wait for one another outside the database: at most PHOTO_TRANSACTIONS transactions, each proof still counted', async () => {
    const people: Awaited<ReturnType<typeof userWithTask>>[] = [];
    for (let i = 0; i < 12; i += 1) people.push(await userWithTask(t.db, 1));
    const ids = await storeMessages(
      t.db,
      people.map((p, i) => ({
        from: p.phone,
        to: GROUP_NUMBER,
        body: '',
        media: [photo(100 + i)],
      })),
    );
    // Every copy ends at once, so all twelve would open their transaction together.
    let open = 0;
    let mostOpen = 0;
    const counting: Database = {
      ...t.db,
      query: (sql, params) => t.db.query(sql, params),
      async transaction(work) {
        open += 1;
        mostOpen = Math.max(mostOpen, open);
        try {
          return await t.db.transaction(work);
        } finally {
          open -= 1;
        }
      },
    };
    const job = processInboundJob({
      db: counting,
      copyMedia: copyJpeg(),
      accountability: { autoRegister: true },
      mediaConcurrency: 8,
    });
    await newWorker(t.db, job, { concurrency: 12 }).runUntilIdle();
    assert.equal(mostOpen, PHOTO_TRANSACTIONS);
    assert.equal(
      await count(
        t.db,
        'SELECT count(*)::int AS n FROM feed WHERE message_id = ANY($1::bigint[])',
        [ids],
      ),
      12,
    );
  });

  test('two photos of one user processed at the same moment by two workers complete the task once', async () => {
    // Five rounds: each pits two transactions against each other inside the loop.
    for (let round = 0; round < 5; round += 1) {
      const person = await userWithTask(t.db, 7);
      const ids = await storeMessages(t.db, [
        { from: person.phone, to: GROUP_NUMBER, media: [photo(1000 + round * 2)] },
        { from: person.phone, to: GROUP_NUMBER, media: [photo(1001 + round * 2)] },
      ]);
      // Both messages are copied, then both transactions are open, before either goes on.
      const bothCopied = barrier(2);
      const bothInTransaction = barrier(2);
      const copy = copyJpeg();
      const handler = handlerFor(
        t.db,
        async (item, target) => {
          await bothCopied();
          return copy(item, target);
        },
        async (tx) => {
          await tx.query('SELECT 1');
          await bothInTransaction();
        },
      );
      const handled: number[] = [];
      const a = newWorker(
        t.db,
        async (m) => {
          handled.push(m.id);
          await handler(m);
        },
        { concurrency: 1 },
      );
      const b = newWorker(
        t.db,
        async (m) => {
          handled.push(m.id);
          await handler(m);
        },
        { concurrency: 1 },
      );
      await Promise.all([a.runUntilIdle(), b.runUntilIdle()]);
      assert.deepEqual(handled.sort(), [...ids].sort(), 'each message handled once');

      assert.equal(
        await count(t.db, 'SELECT count(*)::int AS n FROM feed WHERE user_id = $1', [
          person.userId,
        ]),
        1,
        'one post',
      );
      const [user] = await t.db.query<{ points: number }>(
        'SELECT points FROM users WHERE id = $1',
        [person.userId],
      );
      assert.equal(user?.points, 7, 'points awarded once');
      const replies = await t.db.query<{ body: string }>(
        `SELECT body FROM outbound_messages WHERE inbound_message_id = ANY($1::bigint[]) ORDER BY body`,
        [ids],
      );
      assert.equal(replies.length, 2, 'one reply per message');
      assert.equal(replies.filter((r) => /is done!/.test(r.body)).length, 1);
      assert.equal(replies.filter((r) => /no active task/.test(r.body)).length, 1);
    }
  });
});

for (const engine of engines) {
  describe(`one user's two photos at once [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await engine.create();
    });
    after(async () => t?.destroy());

    test('two photos for one active task: one post, points once, the second photo earns nothing', async () => {
      const person = await userWithTask(t.db, 12);
      const ids = await storeMessages(t.db, [
        { from: person.phone, to: GROUP_NUMBER, media: [photo(1)] },
        { from: person.phone, to: GROUP_NUMBER, media: [photo(2)] },
      ]);
      const bothCopied = barrier(2);
      const copy = copyJpeg();
      const handler = handlerFor(t.db, async (item, target) => {
        await bothCopied();
        return copy(item, target);
      });
      await Promise.all([
        newWorker(t.db, handler, { concurrency: 1 }).runUntilIdle(),
        newWorker(t.db, handler, { concurrency: 1 }).runUntilIdle(),
      ]);
      const posts = await t.db.query<{ task_id: number; message_id: number }>(
        'SELECT task_id, message_id FROM feed WHERE user_id = $1',
        [person.userId],
      );
      assert.equal(posts.length, 1);
      assert.equal(Number(posts[0]?.task_id), person.taskId);
      assert.ok(ids.includes(Number(posts[0]?.message_id)));
      const [user] = await t.db.query<{ points: number }>(
        'SELECT points FROM users WHERE id = $1',
        [person.userId],
      );
      assert.equal(user?.points, 12);
      assert.equal(
        await count(
          t.db,
          'SELECT count(*)::int AS n FROM outbound_messages WHERE inbound_message_id = ANY($1::bigint[])',
          [ids],
        ),
        2,
      );
    });
  });
}
