import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Database, Queryable } from '../src/db/executor.js';
import { inboundQueue } from '../src/db/message-queue.js';
import { dhashParam, findEarlierProof } from '../src/db/proofs.js';
import { createUser } from '../src/db/users.js';
import { hammingDistance } from '../src/media/fingerprint.js';
import { type CopyMedia, processInboundJob } from '../src/jobs/process-inbound.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { engines, lockWaiters, postgresOnly, type TestDatabase } from './helpers/databases.js';
import { makePhoto, recompressedCopy } from './helpers/photos.js';
import { serviceClient, startTestService, type TestService } from './helpers/service.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { storeMessages, waitFor, wrapTransactions } from './helpers/worker.js';

// Issue #7, proof checks: a photo counts as proof once, for anyone. The same bytes, or a
// resized and re-compressed copy within PROOF_DUPLICATE_DISTANCE (default 6), complete
// nothing; the reply and GET /messages say why. Media that is not an image never counts.

const GROUP_NUMBER = '+14155238886';
const HOUR = 3_600_000;

interface ApiMessage {
  processing_status: string;
  stored_media: { sha256?: string; dhash?: string | null; content_type?: string }[];
  proof_rejection: {
    reason: string;
    message: string;
    earlier?: { feed_id: number; task_id: number | null; user_id: number; distance: number };
  } | null;
}

for (const engine of engines) {
  describe(`proof checks, end to end [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    let t: TestService;
    let phoneSeq = 0;
    // Photos drawn once for the whole suite: unrelated pictures, one per seed.
    const photos = new Map<number, Buffer>();
    before(async () => {
      twilio = await startFakeTwilio();
      t = await startTestService(engine, {
        TWILIO_API_BASE_URL: twilio.apiBaseUrl,
        TWILIO_WHATSAPP_NUMBER: GROUP_NUMBER,
        PUBLIC_URL: 'http://127.0.0.1:0',
      });
      for (const seed of [11, 12, 13, 14, 15]) photos.set(seed, await makePhoto(seed));
    });
    after(async () => {
      await t?.close();
      await twilio?.close();
    });
    const photo = (seed: number) => photos.get(seed) as Buffer;

    const client = serviceClient(
      () => t,
      () => twilio,
    );
    const { api, deliver, processed } = client;
    const newPhone = () =>
      `+1556${String(process.pid % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;
    const repliesTo = (phone: string) => client.repliesTo(`whatsapp:${phone}`);

    /** A user with active tasks, due an hour apart in the order given. */
    async function userWithTasks(name: string, descriptions: string[]) {
      const phone = newPhone();
      const user = await api('POST', '/users', { username: name, phone_number: phone });
      assert.equal(user.status, 201);
      const taskIds: number[] = [];
      for (const [i, description] of descriptions.entries()) {
        const task = await api('POST', '/tasks', {
          // These tests count the replies: no assignment notice for an admin's task.
          notify: false,
          user_id: user.body.id,
          description,
          due_time: new Date(Date.now() + (i + 1) * HOUR).toISOString(),
        });
        assert.equal(task.status, 201);
        taskIds.push(task.body.id as number);
      }
      return { phone, userId: user.body.id as number, taskIds };
    }

    /**
     * Sends media as `phone` through the signed webhook; resolves to the processed
     * message (GET /messages/{sid}) and the reply it got.
     */
    async function send(phone: string, bytes: Buffer, contentType = 'image/jpeg') {
      const media = twilio.addMedia({ bytes, contentType });
      const params = whatsAppParams({
        from: phone,
        to: GROUP_NUMBER,
        body: 'Done',
        messageSid: media.messageSid,
        media: [{ url: media.url, contentType }],
      });
      const replies = repliesTo(phone).length;
      const message = (await processed(await deliver(params))) as unknown as ApiMessage;
      await waitFor(async () => repliesTo(phone).length > replies);
      return { message, reply: repliesTo(phone).at(-1)?.params.Body ?? '' };
    }

    const taskStatus = async (id: number) => (await api('GET', `/tasks/${id}`)).body.status;
    const points = async (userId: number) => (await api('GET', `/users/${userId}`)).body.points;

    test('the same photo twice: the second completes nothing, and the reply says so', async () => {
      const ada = await userWithTasks('Ada', ['Morning run', 'Evening run']);
      const bytes = photo(11);
      const first = await send(ada.phone, bytes);
      assert.match(first.reply, /"Morning run" is done/);
      assert.equal(first.message.proof_rejection, null);
      const [stored] = first.message.stored_media;
      assert.equal(stored?.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.match(stored?.dhash ?? '', /^[0-9a-f]{16}$/, 'the hashes are stored with the media');

      const second = await send(ada.phone, bytes);
      assert.match(second.reply, /already used as proof for "Morning run" on .*2\d{3}/);
      assert.match(second.reply, /"Evening run" is still open: send a new photo/);
      assert.equal(await taskStatus(ada.taskIds[1] as number), 'active');
      assert.equal(await points(ada.userId), 10, 'no points for the repeat');
      assert.equal((await api('GET', `/feed?user_id=${ada.userId}`)).body.total, 1);

      const rejection = second.message.proof_rejection;
      assert.equal(rejection?.reason, 'duplicate_photo');
      assert.equal(rejection?.earlier?.task_id, ada.taskIds[0]);
      assert.equal(rejection?.earlier?.user_id, ada.userId);
      assert.equal(rejection?.earlier?.distance, 0);
      assert.match(
        rejection?.message ?? '',
        /Same photo as the proof of task #\d+ "Morning run" by Ada/,
      );
    });

    test('a resized, re-compressed copy is rejected at the default threshold; an unrelated photo completes the task', async () => {
      const bo = await userWithTasks('Bo', ['Swim', 'Cycle']);
      const original = photo(12);
      assert.match((await send(bo.phone, original)).reply, /"Swim" is done/);

      const copy = await recompressedCopy(original, 0.7, 55);
      const rejected = await send(bo.phone, copy);
      assert.match(rejected.reply, /looks like a copy of one already used as proof for "Swim"/);
      assert.equal(rejected.message.proof_rejection?.reason, 'similar_photo');
      const distance = rejected.message.proof_rejection?.earlier?.distance ?? -1;
      assert.ok(distance >= 0 && distance <= 6, `distance ${distance}`);
      assert.match(rejected.message.proof_rejection?.message ?? '', /Near copy of the proof/);
      assert.equal(await taskStatus(bo.taskIds[1] as number), 'active');

      const unrelated = await send(bo.phone, photo(13));
      assert.match(unrelated.reply, /"Cycle" is done/);
      assert.equal(unrelated.message.proof_rejection, null);
      assert.equal(await points(bo.userId), 20);
    });

    test("another user re-sending someone's proof photo, or a copy of it, is rejected", async () => {
      const cy = await userWithTasks('Cy', ['Read a chapter']);
      const di = await userWithTasks('Di', ['Tidy the desk']);
      const proof = photo(14);
      assert.match((await send(cy.phone, proof)).reply, /is done/);

      const same = await send(di.phone, proof);
      assert.match(same.reply, /already used as proof by someone else/);
      assert.doesNotMatch(same.reply, /Read a chapter|Cy/, "the reply does not show Cy's task");
      assert.match(same.reply, /"Tidy the desk" is still open/);
      assert.equal(same.message.proof_rejection?.reason, 'duplicate_photo');
      assert.equal(same.message.proof_rejection?.earlier?.user_id, cy.userId);
      assert.match(same.message.proof_rejection?.message ?? '', /by Cy/, 'the dashboard does');

      const copy = await send(di.phone, await recompressedCopy(proof, 0.75, 70));
      assert.equal(copy.message.proof_rejection?.reason, 'similar_photo');
      assert.equal(await taskStatus(di.taskIds[0] as number), 'active');
      assert.equal(await points(di.userId), 0);
    });

    test('audio, a PDF and a video never complete a task; the reply asks for a photo', async () => {
      const ed = await userWithTasks('Ed', ['Practise piano']);
      for (const contentType of ['audio/ogg', 'application/pdf', 'video/mp4']) {
        const { message, reply } = await send(ed.phone, randomBytes(2048), contentType);
        assert.match(reply, /send a photo/i, contentType);
        assert.equal(message.proof_rejection?.reason, 'not_a_photo', contentType);
        assert.match(message.proof_rejection?.message ?? '', new RegExp(contentType));
        assert.equal(message.stored_media[0]?.dhash, null, `${contentType}: no perceptual hash`);
      }
      // Even a real JPEG announced as a video is a video: only image/* is proof.
      const { reply } = await send(ed.phone, photo(15), 'video/mp4');
      assert.match(reply, /send a photo/i);
      assert.equal(await taskStatus(ed.taskIds[0] as number), 'active');
      assert.equal(await points(ed.userId), 0);
    });
  });
}

// The same rules at the level of the workers: the threshold, racing workers, and the
// 64-bit hash on its way through SQL.
for (const engine of engines) {
  describe(`proof checks in the database [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    let seq = 0;
    before(async () => {
      t = await engine.create();
    });
    after(async () => {
      await t?.destroy();
    });

    async function userWithTask(db: Database) {
      seq += 1;
      const phone = `+1557${String(process.pid % 1000).padStart(3, '0')}${String(seq).padStart(4, '0')}`;
      const user = await createUser(db, { username: `p${seq}`, phone_number: phone });
      const [task] = await db.query<{ id: number }>(
        `INSERT INTO tasks (user_id, description, due_time) VALUES ($1, $2, now() + interval '1 hour')
         RETURNING id`,
        [user.id, `Task ${seq}`],
      );
      return { phone, userId: Number(user.id), taskId: Number(task?.id) };
    }

    /** Stands in for the copy into the bucket: every item is a JPEG with these hashes. */
    const copyWith =
      (fingerprint: { sha256: string; dhash: string | null }): CopyMedia =>
      async (_item, target) => {
        return {
          key: `messages/${target.messageSid}/${target.index}.jpg`,
          size: 1024,
          content_type: 'image/jpeg',
          url: `http://storage.test/messages/${target.messageSid}/${target.index}.jpg`,
          ...fingerprint,
        };
      };

    const photoFrom = (phone: string) => ({
      from: phone,
      to: GROUP_NUMBER,
      media: [
        {
          url: `https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME${randomBytes(8).toString('hex')}`,
          contentType: 'image/jpeg',
        },
      ],
    });

    /**
     * Processes the given stored messages at once, as that many workers would;
     * `beforeFeedInsert` runs inside each transaction just before its feed post is written.
     */
    async function processAll(
      db: Database,
      copies: CopyMedia[],
      maxDistance: number,
      beforeFeedInsert?: () => Promise<void>,
    ): Promise<void> {
      const claimed = await inboundQueue.claim(db, copies.length, 60_000);
      assert.equal(claimed.length, copies.length);
      claimed.sort((a, b) => a.id - b.id);
      await Promise.all(
        claimed.map((message, i) =>
          processInboundJob({
            db: wrapTransactions(db, async (tx) => withHook(tx, beforeFeedInsert)),
            copyMedia: copies[i] as CopyMedia,
            accountability: { autoRegister: false, proofDuplicateDistance: maxDistance },
          })(message),
        ),
      );
    }

    const withHook = (tx: Queryable, hook?: () => Promise<void>): Queryable =>
      hook
        ? {
            exec: (sql) => tx.exec(sql),
            async query<Row>(sql: string, params?: readonly unknown[]) {
              // The statement that writes the post: alone, or with the check and the completion.
              if (/\bINSERT INTO feed\b/.test(sql)) await hook();
              return tx.query<Row>(sql, params);
            },
          }
        : tx;

    /**
     * Resolves for everyone once `parties` callers have arrived (or after 5 s, so a bug
     * fails the test instead of hanging it); `arrived()` tells how many did.
     */
    const barrier = (parties: number, timeoutMs = 5_000) => {
      let arrived = 0;
      let open: () => void = () => {};
      const opened = new Promise<void>((resolve) => {
        open = resolve;
      });
      const timer = setTimeout(() => open(), timeoutMs);
      const wait = async () => {
        arrived += 1;
        if (arrived === parties) {
          clearTimeout(timer);
          open();
        }
        await opened;
      };
      return Object.assign(wait, { arrived: () => arrived });
    };

    const rejectionOf = async (db: Database, id: number) =>
      (
        await db.query<{ r: { reason: string } | null }>(
          'SELECT proof_rejection AS r FROM messages WHERE id = $1',
          [id],
        )
      )[0]?.r ?? null;
    const taskDone = async (db: Database, id: number) =>
      (await db.query<{ status: string }>('SELECT status FROM tasks WHERE id = $1', [id]))[0]
        ?.status === 'completed';

    test('PROOF_DUPLICATE_DISTANCE=0 checks the exact bytes only', async () => {
      const sha = () => randomBytes(32).toString('hex');
      const a = await userWithTask(t.db);
      const b = await userWithTask(t.db);
      const c = await userWithTask(t.db);
      const original = { sha256: sha(), dhash: '9c9e1e0d09270f0f' };
      const [first] = await storeMessages(t.db, [photoFrom(a.phone)]);
      await processAll(t.db, [copyWith(original)], 0);
      assert.ok(await taskDone(t.db, a.taskId));

      // A copy (other bytes, one bit of the hash different) passes with the check off...
      const [copy] = await storeMessages(t.db, [photoFrom(b.phone)]);
      await processAll(t.db, [copyWith({ sha256: sha(), dhash: '9c9e1e0d09270f0e' })], 0);
      assert.ok(await taskDone(t.db, b.taskId));
      assert.equal(await rejectionOf(t.db, copy as number), null);

      // ...but the very same bytes never do.
      const [same] = await storeMessages(t.db, [photoFrom(c.phone)]);
      await processAll(t.db, [copyWith(original)], 0);
      assert.equal(await taskDone(t.db, c.taskId), false);
      assert.equal((await rejectionOf(t.db, same as number))?.reason, 'duplicate_photo');
      assert.ok(first);
    });

    // On PGlite the second transaction only ever starts after the first committed: that is
    // the photo sent twice, tested end to end above.
    test(
      'two workers racing with the same bytes: one post, the other is told it is a repeat',
      { skip: postgresOnly(engine) },
      async () => {
        const a = await userWithTask(t.db);
        const b = await userWithTask(t.db);
        const fingerprint = { sha256: randomBytes(32).toString('hex'), dhash: null };
        const ids = await storeMessages(t.db, [photoFrom(a.phone), photoFrom(b.phone)]);
        // Both transactions have checked and found nothing before either posts: the unique
        // index decides.
        const bothChecked = barrier(2);
        await processAll(t.db, [copyWith(fingerprint), copyWith(fingerprint)], 6, bothChecked);
        // Both got past the check to their insert: the loser learns of the repeat after it.
        assert.equal(bothChecked.arrived(), 2);

        const posts = await t.db.query<{ message_id: number }>(
          'SELECT message_id FROM feed WHERE proof_sha256 = $1',
          [fingerprint.sha256],
        );
        assert.equal(posts.length, 1, 'one feed post for the bytes');
        const completed = [await taskDone(t.db, a.taskId), await taskDone(t.db, b.taskId)];
        assert.deepEqual(completed.sort(), [false, true]);
        const loser = ids.find((id) => id !== Number(posts[0]?.message_id)) as number;
        assert.equal((await rejectionOf(t.db, loser))?.reason, 'duplicate_photo');
        const reply = await t.db.query<{ body: string }>(
          'SELECT body FROM outbound_messages WHERE inbound_message_id = $1',
          [loser],
        );
        assert.match(reply[0]?.body ?? '', /already used as proof/);
      },
    );

    test(
      'two workers racing with near copies (other bytes, close hashes): one post',
      { skip: postgresOnly(engine) },
      async () => {
        const a = await userWithTask(t.db);
        const b = await userWithTask(t.db);
        const sha = () => randomBytes(32).toString('hex');
        // A hash of its own (earlier tests posted other ones) and a copy one bit away.
        const hash = randomBytes(8).toString('hex');
        const copy = (BigInt(`0x${hash}`) ^ 1n).toString(16).padStart(16, '0');
        const ids = await storeMessages(t.db, [photoFrom(a.phone), photoFrom(b.phone)]);
        // The first transaction to reach its feed post holds it back until the other one is
        // seen waiting for the near-copy lock, or reaches its own feed post too: without the
        // lock both checks would find nothing and both would post.
        let arrived = 0;
        let secondWaitedForLock = false;
        const firstWaitsForSecond = async () => {
          arrived += 1;
          if (arrived === 1) {
            await waitFor(async () => {
              secondWaitedForLock ||= (await lockWaiters(t.db, 'advisory')) > 0;
              return arrived > 1 || secondWaitedForLock;
            });
          }
        };
        await processAll(
          t.db,
          [copyWith({ sha256: sha(), dhash: hash }), copyWith({ sha256: sha(), dhash: copy })],
          6,
          firstWaitsForSecond,
        );
        // (The second reaches its feed statement too, after the lock: its check is in it.)
        assert.ok(secondWaitedForLock, 'the second check waited for the first post');
        const completed = [await taskDone(t.db, a.taskId), await taskDone(t.db, b.taskId)];
        assert.deepEqual(completed.sort(), [false, true]);
        const posts = await t.db.query<{ message_id: number }>(
          'SELECT message_id FROM feed WHERE message_id = ANY($1::bigint[])',
          [ids],
        );
        assert.equal(posts.length, 1);
        const loser = ids.find((id) => id !== Number(posts[0]?.message_id)) as number;
        assert.equal((await rejectionOf(t.db, loser))?.reason, 'similar_photo');
      },
    );

    test('64-bit hashes survive the trip through SQL, top bit included', async () => {
      const owner = await userWithTask(t.db);
      const hashes = [
        'ffffffffffffffff',
        '8000000000000000',
        '7fffffffffffffff',
        '0000000000000001',
      ];
      for (const hash of hashes) {
        const [row] = await t.db.query<{ hex: string }>(
          `INSERT INTO feed (user_id, proof_sha256, proof_dhash) VALUES ($1, $2, $3::bigint)
           RETURNING lpad(to_hex(proof_dhash), 16, '0') AS hex`,
          [owner.userId, randomBytes(32).toString('hex'), dhashParam(hash)],
        );
        assert.equal(row?.hex, hash);
      }
      // A probe one bit from 0xffff…: SQL and JavaScript agree on every distance.
      const probe = 'fffffffffffffffe';
      const nearest = await findEarlierProof(
        t.db,
        { sha256: randomBytes(32).toString('hex'), dhash: probe },
        { maxDistance: 64, excludeMessageId: 0 },
      );
      assert.equal(nearest?.distance, 1);
      for (const hash of hashes) {
        const rows = await t.db.query<{ d: number }>(
          'SELECT bit_count(($1::bigint # $2::bigint)::bit(64))::int AS d',
          [dhashParam(hash), dhashParam(probe)],
        );
        assert.equal(rows[0]?.d, hammingDistance(hash, probe), hash);
      }
    });
  });
}
