/**
 * The groups API's gaps (issue 16): a habit given by the admin API belongs to one of its
 * owner's groups (`group_id` on POST and PATCH /habits), and a group's own digest hour
 * (`digest_hour` on POST/PATCH/GET /groups) is the hour its digests go out. Through
 * app.inject() with an injected clock, on PGlite and Postgres.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runDigestsDue } from '../src/services/group-news.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import { expectError } from './helpers/errors.js';

type Json = Record<string, unknown>;
// Monday 2 March 2026, 08:00 UTC: 09:00 in Paris.
const START = Date.parse('2026-03-02T08:00:00Z');

for (const engine of engines) {
  describe(`groups and habits API [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    const now = START;
    let nextPhone = 5550410000;
    before(async () => {
      t = await createTestApp(engine, { clock: () => new Date(now), defaultTimezone: 'UTC' });
    });
    after(async () => t?.close());

    const request = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: t.auth, ...(payload ? { payload } : {}) });
    const ok = async (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) => {
      const response = await request(method, url, payload);
      assert.ok(response.statusCode < 300, `${method} ${url}: ${response.body}`);
      return response.json() as Json;
    };
    const newUser = (extra: Json = {}) =>
      ok('POST', '/users', {
        username: `P${(nextPhone += 1)}`,
        phone_number: `+1${nextPhone}`,
        ...extra,
      });
    const newGroup = (name: string, extra: Json = {}) => ok('POST', '/groups', { name, ...extra });
    const occurrencesOf = async (userId: unknown) =>
      ((await ok('GET', `/tasks?user_id=${String(userId)}`)).items as Json[]).filter(
        (task) => task.habit_id !== null,
      );
    const daily = { description: 'Stretch', schedule: 'every day at 21:00' };

    test('POST /habits: the group named, else the only one; several without one, or a group not theirs, is a 422', async () => {
      const runners = await newGroup('Runners');
      const readers = await newGroup('Readers');
      // Only in Runners: the habit goes there without being told, and so does today's occurrence.
      const ada = await newUser({ group_id: runners.id });
      const adaHabit = await ok('POST', '/habits', { user_id: ada.id, ...daily });
      assert.equal(adaHabit.group_id, runners.id);
      const [adaToday] = await occurrencesOf(ada.id);
      assert.equal(adaToday?.group_id, runners.id, "the occurrence follows its habit's group");

      // In the default group and Readers: which one must be said.
      const bob = await newUser();
      await ok('POST', `/groups/${String(readers.id)}/members`, { user_id: bob.id });
      const ask = await request('POST', '/habits', { user_id: bob.id, ...daily });
      expectError(ask, 422, 'unprocessable', /in 2 groups.*group_id.*\(Everyone\).*\(Readers\)/);
      assert.equal((await occurrencesOf(bob.id)).length, 0, 'nothing created');
      const bobHabit = await ok('POST', '/habits', {
        user_id: bob.id,
        ...daily,
        group_id: readers.id,
      });
      assert.equal(bobHabit.group_id, readers.id);
      assert.equal((await ok('GET', `/habits/${String(bobHabit.id)}`)).group_id, readers.id);

      expectError(
        await request('POST', '/habits', { user_id: bob.id, ...daily, group_id: runners.id }),
        422,
        'unprocessable',
        new RegExp(
          `not in group ${String(runners.id)}.*POST /groups/${String(runners.id)}/members`,
        ),
      );
      expectError(
        await request('POST', '/habits', { user_id: bob.id, ...daily, group_id: 999_999 }),
        422,
        'unprocessable',
        /No group with id 999999/,
      );
      assert.equal((await occurrencesOf(bob.id)).length, 1, 'only the habit given its group');
    });

    test("PATCH /habits moves a habit and its open occurrences to another of the owner's groups, not its completed ones", async () => {
      const from = await newGroup('Morning');
      const to = await newGroup('Evening');
      const elsewhere = await newGroup('Elsewhere');
      const cy = await newUser({ group_id: from.id });
      await ok('POST', `/groups/${String(to.id)}/members`, { user_id: cy.id });
      const habit = await ok('POST', '/habits', { user_id: cy.id, ...daily, group_id: from.id });
      const [open] = await occurrencesOf(cy.id);
      assert.ok(open, "today's occurrence is open");
      // Yesterday's proof, already seen by Morning: its points stay there.
      await t.database.db.query(
        `INSERT INTO tasks (user_id, description, due_time, status, points, completed_at,
                            habit_id, occurrence_date, occurrence_slot, group_id)
         VALUES ($1, 'Stretch', $2, 'completed', 10, $2, $3, '2026-03-01', 0, $4)`,
        [cy.id, new Date(START - 86_400_000), habit.id, from.id],
      );

      expectError(
        await request('PATCH', `/habits/${String(habit.id)}`, { group_id: elsewhere.id }),
        422,
        'unprocessable',
        /not in group/,
      );
      assert.equal((await ok('GET', `/habits/${String(habit.id)}`)).group_id, from.id);

      const moved = await ok('PATCH', `/habits/${String(habit.id)}`, { group_id: to.id });
      assert.equal(moved.group_id, to.id);
      const groupsByStatus = (await occurrencesOf(cy.id)).map((task) => [
        task.status,
        task.group_id,
      ]);
      assert.deepEqual(
        groupsByStatus.sort(),
        [
          ['active', to.id],
          ['completed', from.id],
        ].sort(),
      );
    });

    test('digest_hour: POST, PATCH and GET /groups carry it, 0 to 23 or null, and the digests go out at it', async () => {
      const early = await newGroup('Early birds', { timezone: 'Europe/Paris', digest_hour: 7 });
      assert.equal(early.digest_hour, 7);
      assert.equal((await newGroup('Plain')).digest_hour, null, 'absent: SHARE_DIGEST_HOUR');
      const listed = (await ok('GET', '/groups')).items as Json[];
      assert.equal(listed.find((group) => group.id === early.id)?.digest_hour, 7);
      assert.equal((await ok('GET', `/groups/${String(early.id)}`)).digest_hour, 7);

      for (const bad of [24, -1, 7.5, 'seven']) {
        const created = await request('POST', '/groups', { name: 'Bad', digest_hour: bad });
        assert.equal(created.statusCode, 400, `POST digest_hour ${String(bad)}`);
        const changed = await request('PATCH', `/groups/${String(early.id)}`, {
          digest_hour: bad,
        });
        assert.equal(changed.statusCode, 400, `PATCH digest_hour ${String(bad)}`);
      }
      assert.equal((await ok('GET', `/groups/${String(early.id)}`)).digest_hour, 7, 'unchanged');

      // Sunday 8 March 2026, 07:30 in Paris: the weekly digest of a 07:00 group is due; at the
      // deployment's 19:00 it would not be.
      const member = await newUser({ group_id: early.id });
      const settings = { defaultTimezone: 'UTC', whatsappNumber: null, digestHour: 19 };
      const sundayMorning = new Date('2026-03-08T06:30:00Z');
      assert.equal(await runDigestsDue(t.database.db, settings, sundayMorning), 1);
      const [digest] = await t.database.db.query<{ user_id: number; group_id: number }>(
        `SELECT user_id, group_id FROM group_digests WHERE kind = 'weekly'`,
      );
      assert.deepEqual([Number(digest?.user_id), Number(digest?.group_id)], [member.id, early.id]);

      // Back to SHARE_DIGEST_HOUR with null: the next Sunday at 07:30 nothing is due yet.
      const reset = await ok('PATCH', `/groups/${String(early.id)}`, { digest_hour: null });
      assert.equal(reset.digest_hour, null);
      const nextSunday = new Date('2026-03-15T06:30:00Z');
      assert.equal(await runDigestsDue(t.database.db, settings, nextSunday), 0);
      const nextSundayEvening = new Date('2026-03-15T18:30:00Z');
      assert.equal(await runDigestsDue(t.database.db, settings, nextSundayEvening), 1);
    });
  });
}
