import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { completeTask, findActiveTaskForUser } from '../src/db/tasks.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines, lockWaiters, postgresOnly } from './helpers/databases.js';
import { expectError } from './helpers/errors.js';
import { waitFor } from './helpers/worker.js';

interface TaskBody {
  id: number;
  created_at: string;
  user_id: number;
  description: string;
  due_time: string;
  status: 'active' | 'completed' | 'expired' | 'cancelled';
  points: number;
  completed_at: string | null;
  expired_at: string | null;
  reminders: { kind: string; offset_minutes: number; status: string; send_at: string }[];
}
interface PageBody {
  items: TaskBody[];
  total: number;
  limit: number;
  offset: number;
}

const TASK_FIELDS = [
  'completed_at',
  'created_at',
  'description',
  'due_time',
  'expired_at',
  'group_id',
  'habit_id',
  'id',
  'points',
  'reminders',
  'status',
  'user_id',
];

for (const engine of engines) {
  describe(`tasks API [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    let nextPhone = 5550300000;

    before(async () => {
      t = await createTestApp(engine);
    });
    after(async () => t?.close());

    const request = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: t.auth, ...(payload ? { payload } : {}) });
    const newUser = async (username = 'Ada'): Promise<number> => {
      const response = await request('POST', '/users', {
        username,
        phone_number: `+1${(nextPhone += 1)}`,
      });
      assert.equal(response.statusCode, 201, response.body);
      return (response.json() as { id: number }).id;
    };
    const newTask = async (payload: Record<string, unknown>): Promise<TaskBody> => {
      const response = await request('POST', '/tasks', payload);
      assert.equal(response.statusCode, 201, response.body);
      return response.json() as TaskBody;
    };
    const setStatus = (id: number, status: string) =>
      t.database.db.query(
        `UPDATE tasks SET status = $2::text, completed_at = CASE WHEN $2::text = 'completed' THEN now() END
         WHERE id = $1`,
        [id, status],
      );

    test('POST /tasks creates an active task worth 10 points by default', async () => {
      const userId = await newUser();
      const response = await request('POST', '/tasks', {
        user_id: userId,
        description: '  Run 5 km ',
        due_time: '2030-05-01T18:00:00+02:00',
      });
      assert.equal(response.statusCode, 201, response.body);
      const task = response.json() as TaskBody;
      assert.deepEqual(Object.keys(task).sort(), TASK_FIELDS);
      assert.equal(task.user_id, userId);
      assert.equal(task.description, 'Run 5 km');
      assert.equal(task.due_time, '2030-05-01T16:00:00.000Z');
      assert.equal(task.status, 'active');
      assert.equal(task.points, 10);
      assert.equal(task.completed_at, null);
      assert.equal(task.expired_at, null);
      // The assignment notice, due at once (notify defaults to true), then the default
      // REMINDER_OFFSETS (60,15): one pending stage each, before the due time.
      assert.deepEqual(
        task.reminders.map((r) => [
          r.kind,
          r.offset_minutes,
          r.status,
          r.kind === 'assignment' ? task.created_at : r.send_at,
        ]),
        [
          ['assignment', 0, 'pending', task.created_at],
          ['reminder', 60, 'pending', '2030-05-01T15:00:00.000Z'],
          ['reminder', 15, 'pending', '2030-05-01T15:45:00.000Z'],
        ],
      );
      const notice = task.reminders.find((r) => r.kind === 'assignment');
      assert.ok(Math.abs(Date.parse(notice?.send_at ?? '') - Date.parse(task.created_at)) < 60_000);
      assert.ok(Math.abs(Date.parse(task.created_at) - Date.now()) < 60_000);
    });

    test('explicit points are kept, from 0 to 100000', async () => {
      const userId = await newUser();
      for (const points of [0, 25, 100_000]) {
        const task = await newTask({
          user_id: userId,
          description: `worth ${points}`,
          due_time: '2030-01-01T00:00:00Z',
          points,
        });
        assert.equal(task.points, points);
      }
    });

    test('points out of range or not an integer are 400 naming points', async () => {
      const userId = await newUser();
      for (const points of [-1, 100_001, 1.5, 'many']) {
        const response = await request('POST', '/tasks', {
          user_id: userId,
          description: 'x',
          due_time: '2030-01-01T00:00:00Z',
          points,
        });
        expectError(response, 400, 'validation_failed', /points/);
      }
    });

    test('an unknown user_id is a 422 that says to create the user first', async () => {
      const response = await request('POST', '/tasks', {
        user_id: 424242,
        description: 'Orphan',
        due_time: '2030-01-01T00:00:00Z',
      });
      expectError(
        response,
        422,
        'unprocessable',
        /No user with id 424242; create the user first with POST \/users/,
      );
    });

    test('a due_time without an offset or not a date is a 400 naming due_time', async () => {
      const userId = await newUser();
      for (const due_time of [
        '2030-05-01T18:00:00',
        '2030-05-01',
        'tomorrow',
        '2030-02-30T10:00:00Z',
        '',
      ]) {
        const response = await request('POST', '/tasks', {
          user_id: userId,
          description: 'x',
          due_time,
        });
        expectError(response, 400, 'validation_failed', /due_time/);
      }
      const missing = await request('POST', '/tasks', { user_id: userId, description: 'x' });
      expectError(missing, 400, 'validation_failed', /due_time/);
      const blank = await request('POST', '/tasks', {
        user_id: userId,
        description: '   ',
        due_time: '2030-01-01T00:00:00Z',
      });
      expectError(blank, 400, 'validation_failed', /description/);
    });

    test('the app default pointsPerTask applies to tasks created without points', async () => {
      const other = await createTestApp(engine, { pointsPerTask: 7 });
      try {
        const user = await other.app.inject({
          method: 'POST',
          url: '/users',
          headers: other.auth,
          payload: { username: 'Seven', phone_number: '+15550777777' },
        });
        const task = await other.app.inject({
          method: 'POST',
          url: '/tasks',
          headers: other.auth,
          payload: {
            user_id: (user.json() as { id: number }).id,
            description: 'x',
            due_time: '2030-01-01T00:00:00Z',
          },
        });
        assert.equal(task.statusCode, 201, task.body);
        assert.equal((task.json() as TaskBody).points, 7);
      } finally {
        await other.close();
      }
    });

    test('GET /tasks filters by user and status, ordered by due time then id, with paging', async () => {
      const ada = await newUser('Ada');
      const bob = await newUser('Bob');
      const later = await newTask({
        user_id: ada,
        description: 'later',
        due_time: '2031-03-01T00:00:00Z',
      });
      const sooner = await newTask({
        user_id: ada,
        description: 'sooner',
        due_time: '2031-01-01T00:00:00Z',
      });
      const tieA = await newTask({
        user_id: ada,
        description: 'tie a',
        due_time: '2031-02-01T00:00:00Z',
      });
      const tieB = await newTask({
        user_id: ada,
        description: 'tie b',
        due_time: '2031-02-01T01:00:00+01:00',
      });
      const bobs = await newTask({
        user_id: bob,
        description: 'bob',
        due_time: '2031-01-15T00:00:00Z',
      });
      await setStatus(later.id, 'completed');

      const adas = (await request('GET', `/tasks?user_id=${ada}`)).json() as PageBody;
      assert.equal(adas.total, 4);
      assert.equal(adas.limit, 50);
      assert.deepEqual(
        adas.items.map((task) => task.id),
        [sooner.id, tieA.id, tieB.id, later.id],
      );

      const active = (
        await request('GET', `/tasks?user_id=${ada}&status=active`)
      ).json() as PageBody;
      assert.deepEqual(
        active.items.map((task) => task.id),
        [sooner.id, tieA.id, tieB.id],
      );
      assert.equal(active.total, 3);

      const completed = (
        await request('GET', `/tasks?user_id=${ada}&status=completed`)
      ).json() as PageBody;
      assert.deepEqual(
        completed.items.map((task) => task.id),
        [later.id],
      );
      assert.ok(completed.items[0]?.completed_at);

      const page = (
        await request('GET', `/tasks?user_id=${ada}&limit=2&offset=1`)
      ).json() as PageBody;
      assert.deepEqual(
        page.items.map((task) => task.id),
        [tieA.id, tieB.id],
      );
      assert.equal(page.total, 4);
      assert.equal(page.offset, 1);

      const bobsList = (await request('GET', `/tasks?user_id=${bob}`)).json() as PageBody;
      assert.deepEqual(
        bobsList.items.map((task) => task.id),
        [bobs.id],
      );

      const all = (await request('GET', '/tasks?limit=100')).json() as PageBody;
      const dues = all.items.map((task) => Date.parse(task.due_time));
      assert.deepEqual(
        dues,
        [...dues].sort((a, b) => a - b),
      );
    });

    test('GET /tasks with an unknown status or a bad user_id is 400 naming the parameter', async () => {
      expectError(
        await request('GET', '/tasks?status=done'),
        400,
        'validation_failed',
        /status.*active\|completed\|expired\|cancelled/,
      );
      expectError(await request('GET', '/tasks?user_id=abc'), 400, 'validation_failed', /user_id/);
      expectError(await request('GET', '/tasks?limit=101'), 400, 'validation_failed', /limit/);
    });

    test('GET /tasks/{id} answers the task, 404 for an unknown id', async () => {
      const task = await newTask({
        user_id: await newUser(),
        description: 'Read',
        due_time: '2030-01-01T00:00:00Z',
      });
      const found = await request('GET', `/tasks/${task.id}`);
      assert.equal(found.statusCode, 200);
      assert.deepEqual(found.json(), task);
      expectError(await request('GET', '/tasks/999999'), 404, 'not_found', /999999/);
    });

    test('PATCH /tasks/{id} edits description and due time, then cancels', async () => {
      const task = await newTask({
        user_id: await newUser(),
        description: 'Swim',
        due_time: '2030-01-01T00:00:00Z',
      });
      const edited = await request('PATCH', `/tasks/${task.id}`, {
        description: ' Swim 1 km ',
        due_time: '2030-01-02T09:30:00-05:00',
      });
      assert.equal(edited.statusCode, 200, edited.body);
      const body = edited.json() as TaskBody;
      assert.equal(body.description, 'Swim 1 km');
      assert.equal(body.due_time, '2030-01-02T14:30:00.000Z');
      assert.equal(body.status, 'active');

      const cancelled = await request('PATCH', `/tasks/${task.id}`, { status: 'cancelled' });
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      assert.equal((cancelled.json() as TaskBody).status, 'cancelled');
      assert.equal((cancelled.json() as TaskBody).description, 'Swim 1 km');

      const again = await request('PATCH', `/tasks/${task.id}`, { description: 'Swim 2 km' });
      expectError(again, 409, 'conflict', /cancelled/);
    });

    test('changing or cancelling a completed or expired task is a 409 naming its status', async () => {
      const userId = await newUser();
      for (const status of ['completed', 'expired']) {
        const task = await newTask({
          user_id: userId,
          description: `was ${status}`,
          due_time: '2030-01-01T00:00:00Z',
        });
        await setStatus(task.id, status);
        const before = (await request('GET', `/tasks/${task.id}`)).json();
        expectError(
          await request('PATCH', `/tasks/${task.id}`, { status: 'cancelled' }),
          409,
          'conflict',
          new RegExp(`Task ${task.id} is ${status}`),
        );
        expectError(
          await request('PATCH', `/tasks/${task.id}`, { description: 'changed' }),
          409,
          'conflict',
          new RegExp(status),
        );
        assert.deepEqual((await request('GET', `/tasks/${task.id}`)).json(), before);
      }
    });

    test('PATCH with an empty body, another status, a bad due_time or an unknown id is refused', async () => {
      const task = await newTask({
        user_id: await newUser(),
        description: 'Walk',
        due_time: '2030-01-01T00:00:00Z',
      });
      expectError(
        await request('PATCH', `/tasks/${task.id}`, {}),
        400,
        'validation_failed',
        /Nothing to change/,
      );
      expectError(
        await request('PATCH', `/tasks/${task.id}`, { status: 'completed' }),
        400,
        'validation_failed',
        /status.*cancelled/,
      );
      expectError(
        await request('PATCH', `/tasks/${task.id}`, { due_time: 'next week' }),
        400,
        'validation_failed',
        /due_time/,
      );
      expectError(
        await request('PATCH', '/tasks/999999', { status: 'cancelled' }),
        404,
        'not_found',
        /999999/,
      );
      assert.deepEqual((await request('GET', `/tasks/${task.id}`)).json(), task);
    });

    test('findActiveTaskForUser gives the active task due first', async () => {
      const userId = await newUser();
      const db = t.database.db;
      const third = await newTask({
        user_id: userId,
        description: 'third',
        due_time: '2032-03-01T00:00:00Z',
      });
      const first = await newTask({
        user_id: userId,
        description: 'first',
        due_time: '2032-01-01T00:00:00Z',
      });
      const second = await newTask({
        user_id: userId,
        description: 'second',
        due_time: '2032-02-01T00:00:00Z',
      });
      const done = await newTask({
        user_id: userId,
        description: 'done',
        due_time: '2031-01-01T00:00:00Z',
      });
      await setStatus(done.id, 'completed');

      assert.equal((await db.transaction((tx) => findActiveTaskForUser(tx, userId)))?.id, first.id);
      assert.ok(await completeTask(db, first.id));
      assert.equal(
        (await db.transaction((tx) => findActiveTaskForUser(tx, userId)))?.id,
        second.id,
      );

      const completedFirst = (await request('GET', `/tasks/${first.id}`)).json() as TaskBody;
      assert.equal(completedFirst.status, 'completed');
      assert.ok(completedFirst.completed_at);
      assert.equal(await completeTask(db, first.id), null, 'a task is completed once');
      assert.ok(await completeTask(db, second.id));
      assert.equal((await db.transaction((tx) => findActiveTaskForUser(tx, userId)))?.id, third.id);
      assert.equal(await db.transaction((tx) => findActiveTaskForUser(tx, 999_999)), null);
    });

    test(
      'findActiveTaskForUser locks the task: a second proof waits for the first, then gets the next task',
      { skip: postgresOnly(engine) },
      async () => {
        const userId = await newUser();
        const db = t.database.db;
        const first = await newTask({
          user_id: userId,
          description: 'first',
          due_time: '2032-01-01T00:00:00Z',
        });
        const second = await newTask({
          user_id: userId,
          description: 'second',
          due_time: '2032-02-01T00:00:00Z',
        });

        // Proof A holds its task until proof B is seen waiting for a lock, or is done (had
        // it not waited, it would complete A's task first and A's completion would fail).
        let signalLocked!: () => void;
        const locked = new Promise<void>((resolve) => (signalLocked = resolve));
        let bDone = false;
        const proofA = db.transaction(async (tx) => {
          const task = await findActiveTaskForUser(tx, userId);
          signalLocked();
          await waitFor(async () => bDone || (await lockWaiters(db)) > 0);
          assert.ok(task);
          assert.ok(await completeTask(tx, task.id), 'nobody completed it meanwhile');
          return task;
        });
        await locked;
        const proofB = db
          .transaction(async (tx) => {
            const task = await findActiveTaskForUser(tx, userId);
            assert.ok(task);
            assert.ok(await completeTask(tx, task.id));
            return task;
          })
          .finally(() => (bDone = true));
        const [a, b] = await Promise.all([proofA, proofB]);
        assert.equal(a.id, first.id);
        assert.equal(b.id, second.id);
      },
    );

    test('every tasks route answers 401 without the API token', async () => {
      const routes: ['GET' | 'POST' | 'PATCH', string][] = [
        ['POST', '/tasks'],
        ['GET', '/tasks'],
        ['GET', '/tasks/1'],
        ['PATCH', '/tasks/1'],
      ];
      for (const [method, url] of routes) {
        const response = await t.app.inject({
          method,
          url,
          ...(method === 'GET' ? {} : { payload: { status: 'cancelled' } }),
        });
        expectError(response, 401, 'unauthorized', /API token/);
      }
    });
  });
}
