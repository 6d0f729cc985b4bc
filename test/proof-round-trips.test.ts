import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Database, Queryable } from '../src/db/executor.js';
import { inboundQueue, requeueMessage } from '../src/db/message-queue.js';
import { createUser } from '../src/db/users.js';
import { type CopyMedia, processInboundJob } from '../src/jobs/process-inbound.js';
import { engines, type TestDatabase } from './helpers/databases.js';
import { storeMessages, wrapTransactions } from './helpers/worker.js';

// Issue 14: a photo that completes a task is the loop's hot path, and every statement in
// its transaction is a round trip to the database while the near-copy lock is held. These
// tests count them, so that a change adding one shows up here rather than in a benchmark.

const GROUP_NUMBER = '+14155238886';

/**
 * Statements of one completing photo's transaction (12 before issue 14): the sender's
 * lookup; the overdue tasks expired with the active task locked (and the near-copy lock
 * taken); the proof check with the feed post, the completion and the points; the message
 * marked processed with its reply.
 */
const MAX_STATEMENTS_PER_COMPLETED_PROOF = 4;

for (const engine of engines) {
  describe(`round trips of a photo proof [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    let seq = 0;
    before(async () => {
      t = await engine.create();
    });
    after(async () => {
      await t?.destroy();
    });

    async function userWithTask(db: Database, groupShare?: 'instant' | 'off') {
      seq += 1;
      const phone = `+1558${String(process.pid % 1000).padStart(3, '0')}${String(seq).padStart(4, '0')}`;
      const user = await createUser(db, { username: `r${seq}`, phone_number: phone });
      if (groupShare) {
        await db.query(`UPDATE groups SET share = $1 WHERE is_default`, [groupShare]);
      }
      const [task] = await db.query<{ id: number }>(
        `INSERT INTO tasks (user_id, description, due_time, points)
         VALUES ($1, $2, now() + interval '1 hour', 7)
         RETURNING id`,
        [user.id, `Task ${seq}`],
      );
      return { phone, userId: Number(user.id), taskId: Number(task?.id) };
    }

    /** A JPEG in the bucket with hashes of its own (a near-copy check runs for it). */
    const freshPhoto: CopyMedia = async (_item, target) => ({
      key: `messages/${target.messageSid}/${target.index}.jpg`,
      size: 1024,
      content_type: 'image/jpeg',
      url: `http://storage.test/messages/${target.messageSid}/${target.index}.jpg`,
      sha256: randomBytes(32).toString('hex'),
      dhash: randomBytes(8).toString('hex'),
    });

    /** A JPEG in the bucket with the given hashes. */
    const photoWith =
      (fingerprint: { sha256: string; dhash: string }): CopyMedia =>
      async (item, target) => ({ ...(await freshPhoto(item, target)), ...fingerprint });

    /**
     * Processes one stored photo message (a new one from `phone`, or the message requeued
     * before); resolves to the statements its transaction ran.
     */
    async function processCounting(
      db: Database,
      phone: string | null,
      copyMedia: CopyMedia = freshPhoto,
    ): Promise<string[]> {
      if (phone !== null) await storePhoto(db, phone);
      const [message] = await inboundQueue.claim(db, 1, 60_000);
      assert.ok(message);
      const statements: string[] = [];
      const counting = (tx: Queryable): Queryable => ({
        exec: (sql) => {
          statements.push(sql);
          return tx.exec(sql);
        },
        query: <Row>(sql: string, params?: readonly unknown[]) => {
          statements.push(sql.replace(/\s+/g, ' ').trim().slice(0, 90));
          return tx.query<Row>(sql, params);
        },
      });
      await processInboundJob({
        db: wrapTransactions(db, async (tx) => counting(tx)),
        copyMedia,
        accountability: { autoRegister: false },
      })(message);
      return statements;
    }

    async function storePhoto(db: Database, phone: string): Promise<number> {
      const [id] = await storeMessages(db, [
        {
          from: phone,
          to: GROUP_NUMBER,
          media: [
            {
              url: `https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME${randomBytes(8).toString('hex')}`,
              contentType: 'image/jpeg',
            },
          ],
        },
      ]);
      return id as number;
    }

    const stateOf = async (db: Database, who: { userId: number; taskId: number }) => {
      const [task] = await db.query<{ status: string }>('SELECT status FROM tasks WHERE id = $1', [
        who.taskId,
      ]);
      const [user] = await db.query<{ points: number }>('SELECT points FROM users WHERE id = $1', [
        who.userId,
      ]);
      const posts = await db.query('SELECT id FROM feed WHERE task_id = $1', [who.taskId]);
      return { status: task?.status, points: user?.points, posts: posts.length };
    };

    test(`a photo completing a task takes at most ${MAX_STATEMENTS_PER_COMPLETED_PROOF} statements`, async () => {
      const ada = await userWithTask(t.db, 'off');
      const statements = await processCounting(t.db, ada.phone);
      assert.deepEqual(await stateOf(t.db, ada), { status: 'completed', points: 7, posts: 1 });
      assert.ok(
        statements.length <= MAX_STATEMENTS_PER_COMPLETED_PROOF,
        `${statements.length} statements:\n${statements.join('\n')}`,
      );
    });

    const rejectionOf = async (db: Database, messageId: number) =>
      (
        await db.query<{ r: { reason: string } | null }>(
          'SELECT proof_rejection AS r FROM messages WHERE id = $1',
          [messageId],
        )
      )[0]?.r ?? null;

    test('a message processed again completes nothing twice', async () => {
      const ada = await userWithTask(t.db, 'off');
      await processCounting(t.db, ada.phone);
      const [message] = await t.db.query<{ id: number }>(
        'SELECT message_id AS id FROM feed WHERE task_id = $1',
        [ada.taskId],
      );
      assert.ok(await requeueMessage(t.db, Number(message?.id)));
      await processCounting(t.db, null);
      assert.deepEqual(await stateOf(t.db, ada), { status: 'completed', points: 7, posts: 1 });
    });

    test('a repeat rejected once, then accepted when processed again, loses its rejection', async () => {
      const fingerprint = {
        sha256: randomBytes(32).toString('hex'),
        dhash: randomBytes(8).toString('hex'),
      };
      const ada = await userWithTask(t.db, 'off');
      const bea = await userWithTask(t.db, 'off');
      await processCounting(t.db, ada.phone, photoWith(fingerprint));
      const repeat = await storePhoto(t.db, bea.phone);
      await processCounting(t.db, null, photoWith(fingerprint));
      assert.equal((await rejectionOf(t.db, repeat))?.reason, 'duplicate_photo');
      assert.equal((await stateOf(t.db, bea)).status, 'active');

      // Ada's post is gone (an admin deleted it): Bea's photo is nobody's repeat any more.
      await t.db.query('DELETE FROM feed WHERE task_id = $1', [ada.taskId]);
      assert.ok(await requeueMessage(t.db, repeat));
      await processCounting(t.db, null, photoWith(fingerprint));
      assert.deepEqual(await stateOf(t.db, bea), { status: 'completed', points: 7, posts: 1 });
      assert.equal(await rejectionOf(t.db, repeat), null);
    });

    test('a photo after one task was due expires that one and completes the open one', async () => {
      const ada = await userWithTask(t.db, 'off');
      const [overdue] = await t.db.query<{ id: number }>(
        `INSERT INTO tasks (user_id, description, due_time, points)
         VALUES ($1, 'Overdue', now() - interval '1 minute', 5) RETURNING id`,
        [ada.userId],
      );
      await processCounting(t.db, ada.phone);
      assert.deepEqual(await stateOf(t.db, ada), { status: 'completed', points: 7, posts: 1 });
      const [expired] = await t.db.query<{ status: string }>(
        'SELECT status FROM tasks WHERE id = $1',
        [overdue?.id],
      );
      assert.equal(expired?.status, 'expired');
    });
  });
}
