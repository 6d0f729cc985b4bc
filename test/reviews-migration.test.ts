/**
 * Migration 0017 (src/db/migrations/0017_reviews.sql) on a database written by the previous
 * release: existing tasks and posts keep their statuses, a task still has at most one live
 * post, and a rejected post no longer holds its task (another photo can prove it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import { engines, type TestDatabase } from './helpers/databases.js';

for (const engine of engines) {
  describe(`migration 0017 for reviews [${engine.name}]`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let taskId = 0;
    let userId = 0;

    before(async () => {
      database = await engine.create({ migrate: false });
      const { db } = database;
      await migrate(
        db,
        loadMigrations().filter((migration) => migration.version < 17),
      );
      const [user] = await db.query<{ id: number }>(
        `INSERT INTO users (username, phone_number) VALUES ('Ada', '+15551700001') RETURNING id`,
      );
      userId = Number(user!.id);
      const [task] = await db.query<{ id: number }>(
        `INSERT INTO tasks (user_id, description, due_time, status)
         VALUES ($1, 'Run 5k', now() + interval '1 hour', 'completed') RETURNING id`,
        [userId],
      );
      taskId = Number(task!.id);
      await db.query(`INSERT INTO feed (user_id, task_id, status) VALUES ($1, $2, 'published')`, [
        userId,
        taskId,
      ]);
      await migrate(db, loadMigrations());
    });
    after(async () => database?.destroy());

    test('keeps the rows; one live post per task, a rejected one frees it', async () => {
      const { db } = database;
      const [task] = await db.query<{ status: string }>('SELECT status FROM tasks WHERE id = $1', [
        taskId,
      ]);
      assert.equal(task?.status, 'completed');
      await assert.rejects(
        db.query(`INSERT INTO feed (user_id, task_id) VALUES ($1, $2)`, [userId, taskId]),
        /duplicate key|unique/i,
        'a second live post for the task is refused',
      );
      await db.query(`UPDATE feed SET status = 'rejected' WHERE task_id = $1`, [taskId]);
      await db.query(
        `INSERT INTO feed (user_id, task_id, status) VALUES ($1, $2, 'pending_review')`,
        [userId, taskId],
      );
      await db.query(`UPDATE tasks SET status = 'pending_review' WHERE id = $1`, [taskId]);
      await assert.rejects(
        db.query(`UPDATE tasks SET status = 'reviewing' WHERE id = $1`, [taskId]),
        /check constraint/i,
      );
      await assert.rejects(
        db.query(
          `INSERT INTO outbound_messages (kind, to_number, from_number, body) VALUES ('nope', 'a', 'b', 'c')`,
        ),
        /check constraint/i,
      );
      await db.query(
        `INSERT INTO outbound_messages (kind, to_number, from_number, body)
         VALUES ('review_request', 'a', 'b', 'c'), ('share', 'a', 'b', 'c')`,
      );
    });
  });
}
