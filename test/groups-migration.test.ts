/**
 * Migrations 0014 and 0015 on a database written by the previous release (migrated to
 * 0013): one default group holds everybody who existed, every existing task, habit and
 * post is in it, so the deployment keeps working unchanged; rows inserted afterwards
 * without a group get one (migration 0015).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import { engines, type TestDatabase } from './helpers/databases.js';

for (const engine of engines) {
  describe(`the default-group migration [${engine.name}]`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    const userIds: number[] = [];
    let habitId = 0;

    before(async () => {
      database = await engine.create({ migrate: false });
      const { db } = database;
      await migrate(
        db,
        loadMigrations().filter((migration) => migration.version <= 13),
      );
      for (const [name, phone] of [
        ['Ada', '+15550140001'],
        ['Ben', '+15550140002'],
      ] as const) {
        const [user] = await db.query<{ id: number }>(
          'INSERT INTO users (username, phone_number) VALUES ($1, $2) RETURNING id',
          [name, phone],
        );
        userIds.push(Number(user?.id));
      }
      const [habit] = await db.query<{ id: number }>(
        `INSERT INTO habits (user_id, description, schedule_text, rrule, local_time, time_zone)
         VALUES ($1, 'Gym', 'every day at 7am', 'FREQ=DAILY', '07:00', 'UTC') RETURNING id`,
        [userIds[0]],
      );
      habitId = Number(habit?.id);
      const [task] = await db.query<{ id: number }>(
        `INSERT INTO tasks (user_id, description, due_time, status)
         VALUES ($1, 'Run 5k', now() - interval '1 day', 'completed') RETURNING id`,
        [userIds[0]],
      );
      await db.query(
        `INSERT INTO tasks (user_id, description, due_time) VALUES ($1, 'Read', now() + interval '1 day')`,
        [userIds[1]],
      );
      await db.query(`INSERT INTO feed (user_id, task_id, post_content) VALUES ($1, $2, 'done')`, [
        userIds[0],
        task?.id,
      ]);
      await migrate(db);
    });
    after(async () => database?.destroy());

    const defaultGroup = async () => {
      const rows = await database.db.query<{ id: number; name: string; invite_code: string }>(
        'SELECT id, name, invite_code FROM groups WHERE is_default',
      );
      assert.equal(rows.length, 1, 'exactly one default group');
      return rows[0] as { id: number; name: string; invite_code: string };
    };

    test('one default group, Everyone, holds everybody who existed before groups', async () => {
      const everyone = await defaultGroup();
      assert.equal(everyone.name, 'Everyone');
      assert.match(everyone.invite_code, /^[0-9A-F]{8}$/);
      const members = await database.db.query<{ user_id: number; role: string }>(
        'SELECT user_id, role FROM group_members WHERE group_id = $1 ORDER BY user_id',
        [everyone.id],
      );
      assert.deepEqual(
        members.map((member) => [Number(member.user_id), member.role]),
        userIds.map((id) => [id, 'member']),
      );
    });

    test('every existing task, habit and post is in the default group', async () => {
      const everyone = await defaultGroup();
      for (const table of ['tasks', 'habits', 'feed']) {
        const rows = await database.db.query<{ group_id: number | null }>(
          `SELECT group_id FROM ${table}`,
        );
        assert.ok(rows.length > 0, table);
        assert.ok(
          rows.every((row) => Number(row.group_id) === Number(everyone.id)),
          `${table}: ${JSON.stringify(rows)}`,
        );
      }
    });

    test('rows inserted without a group get one: the habit’s, the task’s, the owner’s', async () => {
      const { db } = database;
      const everyone = await defaultGroup();
      const [club] = await db.query<{ id: number }>(
        `INSERT INTO groups (name, invite_code) VALUES ('Club', 'CLUB2345') RETURNING id`,
      );
      const clubId = Number(club?.id);
      // Ben leaves Everyone for Club: his only group from now on.
      await db.query('DELETE FROM group_members WHERE user_id = $1', [userIds[1]]);
      await db.query('INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)', [
        clubId,
        userIds[1],
      ]);
      await db.query('UPDATE habits SET group_id = $1 WHERE id = $2', [clubId, habitId]);
      const [bens] = await db.query<{ id: number; group_id: number }>(
        `INSERT INTO tasks (user_id, description, due_time)
         VALUES ($1, 'Swim', now() + interval '1 day') RETURNING id, group_id`,
        [userIds[1]],
      );
      assert.equal(Number(bens?.group_id), clubId, 'the owner’s only group');
      const [occurrence] = await db.query<{ group_id: number }>(
        `INSERT INTO tasks (user_id, description, due_time, habit_id, occurrence_date)
         VALUES ($1, 'Gym', now() + interval '1 day', $2, current_date) RETURNING group_id`,
        [userIds[0], habitId],
      );
      assert.equal(Number(occurrence?.group_id), clubId, 'an occurrence: its habit’s group');
      const [adas] = await db.query<{ group_id: number }>(
        `INSERT INTO tasks (user_id, description, due_time)
         VALUES ($1, 'Walk', now() + interval '1 day') RETURNING group_id`,
        [userIds[0]],
      );
      assert.equal(Number(adas?.group_id), Number(everyone.id), 'Ada is in Everyone only');
      const [post] = await db.query<{ group_id: number }>(
        `INSERT INTO feed (user_id, task_id, post_content) VALUES ($1, $2, 'swum')
         RETURNING group_id`,
        [userIds[1], bens?.id],
      );
      assert.equal(Number(post?.group_id), clubId, 'a post: its task’s group');
    });
  });
}
