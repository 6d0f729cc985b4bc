import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import { openPostgres } from '../src/db/postgres.js';
import { createGroupDigestJob } from '../src/jobs/group-digests.js';
import {
  type GroupNewsSettings,
  groupNewsReasons,
  runDigestsDue,
  shareProof,
} from '../src/services/group-news.js';
import type { TaskRow } from '../src/domain/task.js';
import type { UserRow } from '../src/domain/user.js';
import { decideReview } from '../src/services/reviews.js';
import { engines, postgresOnly, type TestDatabase } from './helpers/databases.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { quietLog } from './helpers/worker.js';

const NUMBER = '+14155238886';

let phones = 0;
async function person(
  db: Database,
  username: string,
  lastWhatsApp: Date | null,
  optedOut = false,
): Promise<number> {
  phones += 1;
  const phone = `+1555${String(process.pid % 1000).padStart(3, '0')}${String(phones).padStart(4, '0')}`;
  const [row] = await db.query<{ id: number }>(
    `INSERT INTO users (username, phone_number, last_whatsapp_inbound_at, last_inbound_at,
                        opted_out_at, opt_out_source)
     VALUES ($1, $2, $3, $3, $4, $5) RETURNING id`,
    [
      username,
      phone,
      lastWhatsApp,
      optedOut ? new Date('2026-11-01T00:00:00Z') : null,
      optedOut ? 'keyword' : null,
    ],
  );
  return Number(row!.id);
}

async function group(
  db: Database,
  name: string,
  timezone: string,
  members: readonly number[],
): Promise<number> {
  const [row] = await db.query<{ id: number }>(
    `INSERT INTO groups (name, timezone, share, invite_code)
     VALUES ($1, $2, 'instant', upper(substr(md5(random()::text), 1, 8))) RETURNING id`,
    [name, timezone],
  );
  const id = Number(row!.id);
  // Only these members: not the default group's everybody.
  await db.query(`INSERT INTO group_members (group_id, user_id) SELECT $1, unnest($2::bigint[])`, [
    id,
    members,
  ]);
  return id;
}

/** A task of `userId` completed by a published proof at `at`, worth `points`, in `groupId`. */
async function proof(
  db: Database,
  userId: number,
  groupId: number,
  points: number,
  at: string,
): Promise<number> {
  const [task] = await db.query<{ id: number }>(
    `INSERT INTO tasks (user_id, description, due_time, status, points, completed_at, group_id)
     VALUES ($1, 'Run 5k', $2::timestamptz + interval '1 hour', 'completed', $3, $2, $4)
     RETURNING id`,
    [userId, at, points, groupId],
  );
  const [post] = await db.query<{ id: number }>(
    `INSERT INTO feed (user_id, task_id, status, group_id, created_at)
     VALUES ($1, $2, 'published', $3, $4) RETURNING id`,
    [userId, task!.id, groupId, at],
  );
  return Number(post!.id);
}

const outbound = (db: Database, kind: string) =>
  db.query<{
    user_id: number;
    to_number: string;
    from_number: string;
    body: string;
    content_sid: string | null;
    content_variables: Record<string, string> | null;
  }>(
    `SELECT user_id, to_number, from_number, body, content_sid, content_variables
     FROM outbound_messages WHERE kind = $1 ORDER BY user_id, id`,
    [kind],
  );

const digestsOf = async (db: Database, kind: string) =>
  (
    await db.query<{ user_id: number; status: string; reason: string | null }>(
      `SELECT user_id, status, reason FROM group_digests WHERE kind = $1 ORDER BY user_id`,
      [kind],
    )
  ).map((row) => ({ user: Number(row.user_id), status: row.status, reason: row.reason }));

for (const engine of engines) {
  describe(`leaderboards by period [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    let now = new Date();
    before(async () => {
      t = await createTestApp(engine, { clock: () => now, defaultTimezone: 'UTC' });
    });
    after(async () => t?.close());
    const get = async (url: string) => {
      const response = await t.app.inject({ method: 'GET', url, headers: t.auth });
      return { status: response.statusCode, body: response.json() as Record<string, unknown> };
    };
    const points = (body: Record<string, unknown>) =>
      (body.items as { username: string; points: number; rank: number }[]).map((item) => [
        item.username,
        item.points,
        item.rank,
      ]);

    test('a week runs Monday to Sunday in the group’s zone: the same proofs fall in different weeks in Tokyo and New York', async () => {
      const db = t.database.db;
      const ada = await person(db, 'Ada', null);
      const bob = await person(db, 'Bob', null);
      const tokyo = await group(db, 'Tokyo', 'Asia/Tokyo', [ada, bob]);
      const newYork = await group(db, 'New York', 'America/New_York', [ada, bob]);
      // Monday 7 December 2026 begins at 15:00Z on the 6th in Tokyo and 05:00Z on the 7th in New York.
      await proof(db, ada, tokyo, 10, '2026-12-06T14:00:00Z'); // Sun 23:00 Tokyo
      await proof(db, ada, tokyo, 20, '2026-12-06T16:00:00Z'); // Mon 01:00 Tokyo
      await proof(db, bob, newYork, 10, '2026-12-06T14:00:00Z'); // Sun 09:00 NY
      await proof(db, bob, newYork, 20, '2026-12-06T16:00:00Z'); // Sun 11:00 NY
      await proof(db, bob, newYork, 40, '2026-12-07T06:00:00Z'); // Mon 01:00 NY
      await proof(db, ada, newYork, 5, '2026-11-29T12:00:00Z'); // the week before, in NY

      // Sunday 20:00Z: Monday 05:00 in Tokyo, still Sunday 15:00 in New York.
      now = new Date('2026-12-06T20:00:00Z');
      const tokyoWeek = await get(`/groups/${tokyo}/leaderboard?period=week`);
      assert.equal(tokyoWeek.status, 200, JSON.stringify(tokyoWeek.body));
      assert.deepEqual(points(tokyoWeek.body), [
        ['Ada', 20, 1],
        ['Bob', 0, 2],
      ]);
      assert.equal(tokyoWeek.body.first_day, '2026-12-07');
      assert.equal(tokyoWeek.body.last_day, '2026-12-13');
      assert.equal(tokyoWeek.body.from, '2026-12-06T15:00:00.000Z');
      assert.equal(tokyoWeek.body.timezone, 'Asia/Tokyo');
      const newYorkWeek = await get(`/groups/${newYork}/leaderboard?period=week`);
      assert.deepEqual(points(newYorkWeek.body), [
        ['Bob', 30, 1],
        ['Ada', 0, 2],
      ]);
      assert.equal(newYorkWeek.body.first_day, '2026-11-30');
      assert.equal(newYorkWeek.body.from, '2026-11-30T05:00:00.000Z');

      // Monday 07:00Z: Monday in both; New York's new week holds only the 01:00 proof.
      now = new Date('2026-12-07T07:00:00Z');
      assert.deepEqual(points((await get(`/groups/${newYork}/leaderboard`)).body), [
        ['Bob', 40, 1],
        ['Ada', 0, 2],
      ]);
      assert.deepEqual(points((await get(`/groups/${newYork}/leaderboard?period=month`)).body), [
        ['Bob', 70, 1],
        ['Ada', 0, 2],
      ]);
      assert.deepEqual(points((await get(`/groups/${newYork}/leaderboard?period=all`)).body), [
        ['Bob', 70, 1],
        ['Ada', 5, 2],
      ]);
      // The same through GET /leaderboard, and everybody in TZ (UTC) without a group.
      const viaLeaderboard = await get(`/leaderboard?group_id=${tokyo}&period=week`);
      assert.deepEqual(points(viaLeaderboard.body), [
        ['Ada', 20, 1],
        ['Bob', 0, 2],
      ]);
      // In UTC the week began at 00:00Z today: only Bob's 06:00Z proof is in it.
      assert.deepEqual(points((await get('/leaderboard?period=week')).body), [
        ['Bob', 40, 1],
        ['Ada', 0, 2],
      ]);
      // Neither given: the current answer, by users.points (untouched by these rows).
      const current = await get('/leaderboard');
      assert.equal(current.status, 200);
      assert.equal(current.body.period, undefined);
      assert.deepEqual(points(current.body), [
        ['Ada', 0, 1],
        ['Bob', 0, 1],
      ]);
      const missing = await get('/groups/999999/leaderboard');
      assert.equal(missing.status, 404);
      assert.equal((missing.body.error as { code: string }).code, 'not_found');
      assert.equal((await get(`/groups/${tokyo}/leaderboard?period=year`)).status, 400);
    });
  });

  describe(
    `share rules: digest, off, a reviewed proof [${engine.name}]`,
    { skip: engine.skip },
    () => {
      let database: TestDatabase;
      before(async () => {
        database = await engine.create();
      });
      after(async () => database?.destroy());

      test('share: digest holds the news for the evening even inside the window; off records nothing', async () => {
        const db = database.db;
        const at = new Date('2026-12-02T10:00:00Z');
        const recently = new Date(at.getTime() - 3_600_000);
        const ida = await person(db, 'Ida', recently);
        const jon = await person(db, 'Jon', recently);
        const quiet = await group(db, 'Quiet', 'Europe/Paris', [ida, jon]);
        const silent = await group(db, 'Silent', 'Europe/Paris', [ida, jon]);
        await db.query(`UPDATE groups SET share = 'digest' WHERE id = $1`, [quiet]);
        await db.query(`UPDATE groups SET share = 'off' WHERE id = $1`, [silent]);
        const author = (await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [ida]))[0]!;
        for (const groupId of [quiet, silent]) {
          const feedId = await proof(db, ida, groupId, 10, at.toISOString());
          const [task] = await db.query<TaskRow>(
            'SELECT t.* FROM tasks t JOIN feed f ON f.task_id = t.id WHERE f.id = $1',
            [feedId],
          );
          const settings = { defaultTimezone: 'UTC', whatsappNumber: NUMBER };
          const proofPost = { feedId, author, task: task!, imageKey: null, receivedOn: '' };
          await db.transaction((tx) => shareProof(tx, proofPost, settings, at));
        }
        const rows = await db.query<{ group_id: number; user_id: number; status: string }>(
          'SELECT group_id, user_id, status FROM shares WHERE group_id = ANY($1) ORDER BY group_id',
          [[quiet, silent]],
        );
        assert.deepEqual(
          rows.map((row) => [Number(row.group_id), Number(row.user_id), row.status]),
          [[quiet, jon, 'pending']],
        );
        assert.equal((await outbound(db, 'share')).length, 0, 'nothing sent at once');
        // 19:00 in Paris: Jon's digest.
        await runDigestsDue(
          db,
          { defaultTimezone: 'UTC', whatsappNumber: NUMBER },
          new Date('2026-12-02T18:00:00Z'),
        );
        const digests = await outbound(db, 'share_digest');
        assert.deepEqual(
          digests.map((row) => [Number(row.user_id), row.body]),
          [[jon, '📸 Today in Quiet:\n• Ida finished “Run 5k”']],
        );
      });

      test('an author who turns sharing off before the digest: their waiting news is skipped with the reason, the rest told', async () => {
        const db = database.db;
        const at = new Date('2026-12-03T10:00:00Z');
        const recently = new Date(at.getTime() - 3_600_000);
        const lea = await person(db, 'Lea', recently);
        const max = await person(db, 'Max', recently);
        const ned = await person(db, 'Ned', recently);
        const crew = await group(db, 'Evening', 'Europe/Paris', [lea, max, ned]);
        await db.query(`UPDATE groups SET share = 'digest' WHERE id = $1`, [crew]);
        const settings = { defaultTimezone: 'UTC', whatsappNumber: NUMBER };
        const share = async (authorId: number) => {
          const feedId = await proof(db, authorId, crew, 10, at.toISOString());
          const [author] = await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [authorId]);
          const [task] = await db.query<TaskRow>(
            'SELECT t.* FROM tasks t JOIN feed f ON f.task_id = t.id WHERE f.id = $1',
            [feedId],
          );
          const post = { feedId, author: author!, task: task!, imageKey: null, receivedOn: '' };
          await db.transaction((tx) => shareProof(tx, post, settings, at));
          return feedId;
        };
        const leas = await share(lea);
        const maxs = await share(max);
        // Lea turns sharing off in the app after her proof was recorded, before 19:00.
        await db.query('UPDATE users SET share_proofs = false WHERE id = $1', [lea]);
        await runDigestsDue(db, settings, new Date('2026-12-03T18:00:00Z'));

        const digests = await outbound(db, 'share_digest');
        assert.deepEqual(
          digests
            .filter((row) => [lea, max, ned].includes(Number(row.user_id)))
            .map((row) => [Number(row.user_id), row.body]),
          [
            [lea, '📸 Today in Evening:\n• Max finished “Run 5k”'],
            [ned, '📸 Today in Evening:\n• Max finished “Run 5k”'],
          ],
          'Max hears nothing (only Lea’s news waited for him); Ned only of Max',
        );
        const shares = await db.query<{
          feed_id: number;
          user_id: number;
          status: string;
          reason: string | null;
        }>(
          'SELECT feed_id, user_id, status, reason FROM shares WHERE feed_id = ANY($1) ORDER BY feed_id, user_id',
          [[leas, maxs]],
        );
        assert.deepEqual(
          shares.map((row) => [Number(row.feed_id), Number(row.user_id), row.status, row.reason]),
          [
            [leas, max, 'skipped', groupNewsReasons.authorStoppedSharing],
            [leas, ned, 'skipped', groupNewsReasons.authorStoppedSharing],
            [maxs, lea, 'digested', null],
            [maxs, ned, 'digested', null],
          ],
        );
        const claimed = await db.query<{ user_id: number }>(
          `SELECT user_id FROM group_digests WHERE group_id = $1 AND kind = 'daily' ORDER BY user_id`,
          [crew],
        );
        assert.deepEqual(
          claimed.map((row) => Number(row.user_id)),
          [lea, ned],
          'no digest was claimed for Max: news later today may still reach him',
        );
      });

      test('approval tells the members who were not asked to review it, once', async () => {
        const db = database.db;
        const at = new Date('2026-12-02T10:00:00Z');
        const recently = new Date(at.getTime() - 3_600_000);
        const ada = await person(db, 'Ada', recently);
        const bob = await person(db, 'Bob', recently);
        const cy = await person(db, 'Cy', recently);
        const crew = await group(db, 'Crew', 'Europe/Paris', [ada, bob, cy]);
        await db.query(`UPDATE groups SET review = 'model' WHERE id = $1`, [crew]);
        const [message] = await db.query<{ id: number }>(
          `INSERT INTO messages (message_sid, from_number, to_number, sender)
         VALUES ('MM00000000000000000000000000000001', 'whatsapp:+15550000001', $1, '+15550000001')
         RETURNING id`,
          [`whatsapp:${NUMBER}`],
        );
        const [task] = await db.query<{ id: number }>(
          `INSERT INTO tasks (user_id, description, due_time, status, group_id)
         VALUES ($1, 'Run 5k', $2, 'pending_review', $3) RETURNING id`,
          [ada, new Date(at.getTime() + 3_600_000), crew],
        );
        const [post] = await db.query<{ id: number }>(
          `INSERT INTO feed (user_id, task_id, status, group_id, message_id)
         VALUES ($1, $2, 'pending_review', $3, $4) RETURNING id`,
          [ada, task!.id, crew, message!.id],
        );
        const [review] = await db.query<{ id: number }>(
          `INSERT INTO proof_reviews (feed_id, task_id, user_id, group_id, message_id, owner_address,
                                    from_number, method, timeout_at)
         VALUES ($1, $2, $3, $4, $5, 'whatsapp:+15550000001', $6, 'model', $7) RETURNING id`,
          [post!.id, task!.id, ada, crew, message!.id, `whatsapp:${NUMBER}`, at],
        );
        // The model was unsure: Bob was asked (and saw the photo); Cy was not.
        await db.query('INSERT INTO review_requests (review_id, reviewer_id) VALUES ($1, $2)', [
          review!.id,
          bob,
        ]);
        const decision = {
          status: 'approved' as const,
          by: 'peer' as const,
          userId: bob,
          reason: null,
          at,
        };
        await db.transaction((tx) =>
          decideReview(tx, Number(review!.id), decision, { defaultTimezone: 'UTC' }),
        );
        await db.transaction((tx) =>
          decideReview(tx, Number(review!.id), decision, { defaultTimezone: 'UTC' }),
        );
        const shares = await outbound(db, 'share');
        assert.deepEqual(
          shares.map((row) => [Number(row.user_id), row.body, row.from_number]),
          [[cy, '📸 Ada finished “Run 5k”', `whatsapp:${NUMBER}`]],
        );
      });
    },
  );

  describe(`the Sunday digest [${engine.name}]`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    before(async () => {
      database = await engine.create();
    });
    after(async () => database?.destroy());

    test('every member gets the week once at 19:00 group time on Sunday: free-form inside the window, the template outside, opted-out skipped with the reason', async () => {
      const db = database.db;
      // Sunday 6 December 2026, 19:05 in Paris (UTC+1).
      const sunday = new Date('2026-12-06T18:05:00Z');
      const recently = new Date(sunday.getTime() - 3_600_000);
      const ada = await person(db, 'Ada', recently);
      const bob = await person(db, 'Bob', recently);
      const cy = await person(db, 'Cy', new Date('2026-12-01T08:00:00Z'));
      const dee = await person(db, 'Dee', recently, true);
      const eve = await person(db, 'Eve', recently);
      const runners = await group(db, 'Runners', 'Europe/Paris', [ada, bob, cy, dee, eve]);
      await proof(db, ada, runners, 30, '2026-12-01T07:00:00Z');
      await proof(db, bob, runners, 10, '2026-12-05T07:00:00Z');
      await proof(db, eve, runners, 10, '2026-12-06T07:00:00Z');
      await proof(db, cy, runners, 50, '2026-11-29T07:00:00Z'); // last week's
      const settings: GroupNewsSettings = {
        defaultTimezone: 'UTC',
        whatsappNumber: NUMBER,
        digestHour: 19,
        digestContentSid: 'HX00000000000000000000000000000001',
      };
      let clock = new Date('2026-12-05T18:30:00Z'); // Saturday 19:30: no weekly digest
      const clocked = createGroupDigestJob(db, {
        pollMs: 1000,
        log: quietLog,
        settings,
        clock: () => clock,
      });
      assert.equal(await clocked.runDue(), 0, 'Saturday');
      clock = new Date('2026-12-06T17:55:00Z'); // Sunday 18:55
      assert.equal(await clocked.runDue(), 0, 'before the hour');
      clock = sunday;
      assert.equal(await clocked.runDue(), 5, 'one decision per member');
      assert.equal(await clocked.runDue(), 0, 'once');
      clock = new Date('2026-12-06T22:30:00Z');
      assert.equal(await clocked.runDue(), 0, 'still once later that evening');

      const decided = await digestsOf(db, 'weekly');
      assert.deepEqual(
        decided.map((row) => [row.user, row.status]),
        [
          [ada, 'sent'],
          [bob, 'sent'],
          [cy, 'sent'],
          [dee, 'skipped'],
          [eve, 'sent'],
        ],
      );
      assert.match(decided[3]?.reason ?? '', /opted out/);
      const sent = await outbound(db, 'weekly_digest');
      assert.equal(sent.length, 4);
      const toAda = sent.find((row) => Number(row.user_id) === ada)!;
      assert.equal(toAda.from_number, `whatsapp:${NUMBER}`);
      assert.equal(toAda.content_sid, null, 'inside the window: free-form');
      assert.equal(
        toAda.body,
        '📊 Your week in Runners (2026-11-30 – 2026-12-06): you earned 30 points.\n' +
          '🏆 Top three: 1. Ada 30, 2. Bob 10, 2. Eve 10.\n' +
          '🔥 Kept a streak: nobody.',
      );
      const toCy = sent.find((row) => Number(row.user_id) === cy)!;
      assert.equal(toCy.content_sid, settings.digestContentSid, 'outside the window: the template');
      assert.equal(toCy.content_variables?.['1'], 'Runners');
      assert.match(
        toCy.content_variables?.['2'] ?? '',
        /^you earned 0 points; top three: 1\. Ada 30/,
      );
      assert.doesNotMatch(toCy.content_variables?.['2'] ?? '', /\n/);

      // A week later without a template: Cy (still outside the window) is skipped, saying why.
      const nextSunday = new Date('2026-12-13T18:05:00Z');
      await db.query('UPDATE users SET last_whatsapp_inbound_at = $2 WHERE id = ANY($1)', [
        [ada, bob, eve],
        nextSunday,
      ]);
      assert.equal(await runDigestsDue(db, { ...settings, digestContentSid: null }, nextSunday), 5);
      const [cyNext] = (await digestsOf(db, 'weekly')).filter(
        (row) => row.user === cy && row.status === 'skipped',
      );
      assert.match(cyNext?.reason ?? '', /Outside WhatsApp's 24-hour window.*DIGEST_CONTENT_SID/);
      assert.equal((await outbound(db, 'weekly_digest')).length, 7);
    });

    test(
      'two instances at once: one daily digest and one weekly digest per member',
      { skip: postgresOnly(engine) },
      async () => {
        const db = database.db;
        await db.query('DELETE FROM group_digests');
        await db.query('DELETE FROM outbound_messages');
        const sunday = new Date('2026-12-20T18:30:00Z'); // 19:30 in Paris
        const recently = new Date(sunday.getTime() - 3_600_000);
        const members = [
          await person(db, 'Fay', recently),
          await person(db, 'Gus', recently),
          await person(db, 'Hal', recently),
        ];
        const crew = await group(db, 'Crew', 'Europe/Paris', members);
        const post = await proof(db, members[0]!, crew, 10, '2026-12-20T09:00:00Z');
        // The news of Fay's proof waits for Gus's and Hal's daily digest.
        await db.query(
          `INSERT INTO shares (feed_id, user_id, group_id, status) VALUES ($1, $2, $4, 'pending'),
             ($1, $3, $4, 'pending')`,
          [post, members[1], members[2], crew],
        );
        const other = await openPostgres({ connectionString: database.url!, poolSize: 4 });
        try {
          const settings: GroupNewsSettings = {
            defaultTimezone: 'UTC',
            whatsappNumber: NUMBER,
            digestHour: 19,
          };
          await Promise.all([
            runDigestsDue(db, settings, sunday),
            runDigestsDue(other, settings, sunday),
            runDigestsDue(other, settings, sunday),
          ]);
        } finally {
          await other.close();
        }
        const weekly = (await outbound(db, 'weekly_digest')).filter((row) =>
          members.includes(Number(row.user_id)),
        );
        assert.deepEqual(
          weekly.map((row) => Number(row.user_id)),
          members,
          'one weekly digest each',
        );
        const daily = await outbound(db, 'share_digest');
        assert.deepEqual(
          daily.map((row) => Number(row.user_id)),
          [members[1], members[2]],
          'one daily digest each for those with news',
        );
        assert.equal(daily[0]?.body, '📸 Today in Crew:\n• Fay finished “Run 5k”');
        const shares = await db.query<{ status: string }>(
          'SELECT status FROM shares WHERE feed_id = $1',
          [post],
        );
        assert.deepEqual(
          shares.map((row) => row.status),
          ['digested', 'digested'],
        );
      },
    );
  });
}
