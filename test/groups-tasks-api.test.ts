/**
 * POST /tasks chooses a task's group as POST /habits does (issue 16 item 1): the group
 * named, else the owner's only group, else a 422 asking which, never the default group by
 * guess. An owner in one group (every deployment from before groups: everybody in
 * "Everyone") notices nothing. Through app.inject(), on PGlite and Postgres.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import { expectError } from './helpers/errors.js';

type Json = Record<string, unknown>;
const START = Date.parse('2026-12-01T08:00:00Z');
const DUE = '2026-12-02T18:00:00Z';

for (const engine of engines) {
  describe(
    `POST /tasks chooses the group like POST /habits [${engine.name}]`,
    { skip: engine.skip },
    () => {
      let t: TestApp;
      let nextPhone = 5550470000;
      before(async () => {
        t = await createTestApp(engine, { clock: () => new Date(START), defaultTimezone: 'UTC' });
      });
      after(async () => t?.close());

      const request = (method: 'GET' | 'POST', url: string, payload?: object) =>
        t.app.inject({ method, url, headers: t.auth, ...(payload ? { payload } : {}) });
      const ok = async (method: 'GET' | 'POST', url: string, payload?: object) => {
        const response = await request(method, url, payload);
        assert.ok(response.statusCode < 300, `${method} ${url}: ${response.body}`);
        return response.json() as Json;
      };
      const newUser = (extra: Json = {}) =>
        ok('POST', '/users', {
          username: `T${(nextPhone += 1)}`,
          phone_number: `+1${nextPhone}`,
          ...extra,
        });
      const task = (userId: unknown, extra: Json = {}) =>
        request('POST', '/tasks', {
          user_id: userId,
          description: 'Run 5k',
          due_time: DUE,
          ...extra,
        });
      const tasksOf = async (userId: unknown) =>
        (await ok('GET', `/tasks?user_id=${String(userId)}`)).total as number;
      const outboundTo = async (userId: unknown) => {
        const [row] = await t.database.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM outbound_messages o JOIN users u ON u.phone_number = o.to_number
         WHERE u.id = $1`,
          [userId],
        );
        return row?.n ?? 0;
      };

      test('only in the default group (a deployment from before groups): unchanged, the task goes there', async () => {
        const groups = (await ok('GET', '/groups')).items as Json[];
        const everyone = groups.find((group) => group.name === 'Everyone');
        assert.ok(everyone, 'the default group');
        const ada = await newUser();
        const created = await task(ada.id);
        assert.equal(created.statusCode, 201, created.body);
        assert.equal((created.json() as Json).group_id, everyone.id);
      });

      test('in several groups and none named: a 422 listing them, worded as for habits; nothing created or sent', async () => {
        const readers = await ok('POST', '/groups', { name: 'Readers' });
        const bob = await newUser();
        await ok('POST', `/groups/${String(readers.id)}/members`, { user_id: bob.id });

        const forTask = await task(bob.id);
        expectError(
          forTask,
          422,
          'unprocessable',
          /in 2 groups.*group_id.*\(Everyone\).*\(Readers\)/,
        );
        const forHabit = await request('POST', '/habits', {
          user_id: bob.id,
          description: 'Run 5k',
          schedule: 'every day at 21:00',
        });
        expectError(forHabit, 422, 'unprocessable', /in 2 groups/);
        const message = (response: typeof forTask) =>
          (response.json() as { error: { message: string } }).error.message;
        assert.equal(message(forTask), message(forHabit).replace('this habit', 'this task'));
        assert.equal(await tasksOf(bob.id), 0, 'no task');
        assert.equal(await outboundTo(bob.id), 0, 'no assignment notice');

        const named = await task(bob.id, { group_id: readers.id });
        assert.equal(named.statusCode, 201, named.body);
        assert.equal((named.json() as Json).group_id, readers.id);
        assert.equal(await tasksOf(bob.id), 1);
      });

      test('in one group that is not the default: that group, and another named is a 422', async () => {
        const runners = await ok('POST', '/groups', { name: 'Runners' });
        const swimmers = await ok('POST', '/groups', { name: 'Swimmers' });
        const cy = await newUser({ group_id: runners.id });
        const created = await task(cy.id);
        assert.equal(created.statusCode, 201, created.body);
        assert.equal((created.json() as Json).group_id, runners.id);
        expectError(
          await task(cy.id, { group_id: swimmers.id }),
          422,
          'unprocessable',
          /not in group/,
        );
      });

      test('in no group at all (removed from every one): the database picks the default group, as before', async () => {
        const dee = await newUser();
        await t.database.db.query('DELETE FROM group_members WHERE user_id = $1', [dee.id]);
        const created = await task(dee.id);
        assert.equal(created.statusCode, 201, created.body);
        assert.notEqual((created.json() as Json).group_id, null);
      });
    },
  );
}
