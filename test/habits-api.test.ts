/**
 * The admin API of habits (GET/POST /habits, GET/PATCH /habits/{id}), the habit_id of each
 * task, a person's zone, pause and opt-out on GET /users/{id}, and streaks on the
 * leaderboard: through app.inject() with an injected clock, on PGlite and Postgres.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHabitOccurrenceJob } from '../src/jobs/habit-occurrences.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import { expectError } from './helpers/errors.js';
import { quietLog } from './helpers/worker.js';

interface HabitBody {
  id: number;
  user_id: number;
  description: string;
  schedule_text: string;
  schedule_summary: string;
  rrule: string;
  local_time: string;
  time_zone: string;
  weekly_quota: number | null;
  points: number;
  status: string;
  next_due_at: string | null;
  current_streak: number;
  best_streak: number;
}
interface TaskBody {
  id: number;
  user_id: number;
  status: string;
  due_time: string;
  habit_id: number | null;
}
interface UserBody {
  id: number;
  timezone: string | null;
  zone_in_effect: string;
  zone_source: string;
  pause: { first_day: string; last_day: string; ends_at: string } | null;
  opted_out_at: string | null;
  opt_out_source: string | null;
}

const DAY = 24 * 3_600_000;
// Monday 2 March 2026, 08:00 UTC: 09:00 in Paris, 03:00 in New York.
const START = Date.parse('2026-03-02T08:00:00Z');

for (const engine of engines) {
  describe(`habits API [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    let now = START;
    const clock = () => new Date(now);
    let nextPhone = 5550300000;
    const freshPhone = () => `+1${(nextPhone += 1)}`;

    before(async () => {
      t = await createTestApp(engine, { clock, defaultTimezone: 'Asia/Tokyo' });
    });
    after(async () => t?.close());

    const request = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: t.auth, ...(payload ? { payload } : {}) });
    const ok = async <T>(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) => {
      const response = await request(method, url, payload);
      assert.ok(response.statusCode < 300, `${method} ${url}: ${response.body}`);
      return response.json() as T;
    };
    const createUser = (fields: Record<string, unknown> = {}) =>
      ok<UserBody>('POST', '/users', { username: 'Ada', phone_number: freshPhone(), ...fields });
    const tasksOf = async (userId: number) =>
      (await ok<{ items: TaskBody[] }>('GET', `/tasks?user_id=${userId}&limit=100`)).items;
    const setStatus = (taskId: number, status: 'completed' | 'expired') =>
      t.database.db.query(
        `UPDATE tasks SET status = $2::varchar, completed_at = CASE WHEN $2::varchar = 'completed' THEN now() END,
           expired_at = CASE WHEN $2::varchar = 'expired' THEN now() END WHERE id = $1`,
        [taskId, status],
      );
    /** The occurrence job, as a worker runs it, at the test clock's now. */
    const openOccurrences = () =>
      createHabitOccurrenceJob(t.database.db, {
        pollMs: 1000,
        log: quietLog,
        offsets: [60],
        clock,
      }).runDue();

    test('POST /habits takes a phrase, in the person’s zone, and opens today’s occurrence', async () => {
      now = START;
      const user = await createUser({ timezone: 'America/New_York' });
      const response = await request('POST', '/habits', {
        user_id: user.id,
        description: '  Read 20 pages ',
        schedule: 'every day at 21:00',
      });
      assert.equal(response.statusCode, 201, response.body);
      const habit = response.json() as HabitBody;
      assert.equal(habit.description, 'Read 20 pages');
      assert.equal(habit.schedule_text, 'every day at 21:00');
      assert.equal(habit.rrule, 'FREQ=DAILY');
      assert.equal(habit.local_time, '21:00');
      assert.equal(habit.time_zone, 'America/New_York');
      assert.equal(habit.weekly_quota, null);
      assert.equal(habit.points, 10);
      assert.equal(habit.status, 'active');
      assert.match(habit.schedule_summary, /every day at 21:00/);
      assert.deepEqual([habit.current_streak, habit.best_streak], [0, 0]);
      // Today (2 March in New York) has started: its occurrence exists, due 21:00 EST.
      const [occurrence, ...others] = await tasksOf(user.id);
      assert.equal(others.length, 0);
      assert.equal(occurrence?.habit_id, habit.id);
      assert.equal(occurrence?.status, 'active');
      assert.equal(occurrence?.due_time, '2026-03-03T02:00:00.000Z');
      assert.equal((await ok<TaskBody>('GET', `/tasks/${occurrence?.id}`)).habit_id, habit.id);
      assert.equal(habit.next_due_at, '2026-03-04T02:00:00.000Z', 'tomorrow’s, not created yet');
    });

    test('POST /habits takes an RRULE, a weekly quota, and a zone of its own', async () => {
      now = START;
      const user = await createUser();
      const rule = await ok<HabitBody>('POST', '/habits', {
        user_id: user.id,
        description: 'Gym',
        schedule: 'FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=7',
        time_zone: 'Europe/Paris',
        points: 25,
      });
      assert.equal(rule.rrule, 'FREQ=WEEKLY;BYDAY=MO,WE,FR');
      assert.equal(rule.local_time, '07:00');
      assert.equal(rule.time_zone, 'Europe/Paris');
      assert.equal(rule.points, 25);
      // 07:00 in Paris on Monday has passed (it is 09:00): the first is Wednesday's.
      assert.equal(rule.next_due_at, '2026-03-04T06:00:00.000Z');
      const quota = await ok<HabitBody>('POST', '/habits', {
        user_id: user.id,
        description: 'Run',
        schedule: '3 times a week',
      });
      assert.equal(quota.weekly_quota, 3);
      assert.equal(quota.time_zone, 'Asia/Tokyo', 'a +1 number has many zones: TZ');
      const quotaTasks = (await tasksOf(user.id)).filter((task) => task.habit_id === quota.id);
      assert.equal(quotaTasks.length, 3, 'three slots this week');
      assert.ok(quotaTasks.every((task) => task.due_time === '2026-03-08T14:59:00.000Z'));
    });

    test('a schedule neither phrase nor RRULE is a 400 that says how to write it', async () => {
      const user = await createUser();
      for (const schedule of ['whenever I feel like it', 'FREQ=HOURLY', 'every blue moon']) {
        expectError(
          await request('POST', '/habits', { user_id: user.id, description: 'X', schedule }),
          400,
          'validation_failed',
          /schedule must be a phrase such as "every day at 21:00".*or an RRULE such as "FREQ=WEEKLY/,
        );
      }
      expectError(
        await request('POST', '/habits', {
          user_id: user.id,
          description: 'X',
          schedule: 'every day',
          time_zone: 'Mars/Olympus',
        }),
        400,
        'validation_failed',
        /IANA zone such as "Europe\/Paris"/,
      );
      expectError(
        await request('POST', '/habits', { user_id: user.id, schedule: 'every day' }),
        400,
        'validation_failed',
        /description/,
      );
      expectError(
        await request('POST', '/habits', {
          user_id: user.id + 1000,
          description: 'X',
          schedule: 'every day',
        }),
        422,
        'unprocessable',
        /No user with id .*POST \/users/,
      );
      assert.equal((await ok<{ total: number }>('GET', `/habits?user_id=${user.id}`)).total, 0);
    });

    test('GET /habits?user_id= counts streaks: completed adds, expired breaks', async () => {
      now = START;
      const user = await createUser({ timezone: 'Europe/Paris' });
      const other = await createUser();
      await ok('POST', '/habits', { user_id: other.id, description: 'Other', schedule: 'daily' });
      const habit = await ok<HabitBody>('POST', '/habits', {
        user_id: user.id,
        description: 'Meditate',
        schedule: 'every day at 21:00',
      });
      const streaks = async () => {
        const page = await ok<{ items: HabitBody[]; total: number }>(
          'GET',
          `/habits?user_id=${user.id}`,
        );
        assert.deepEqual(
          page.items.map((item) => item.id),
          [habit.id],
          'only that person’s habits',
        );
        const [item] = page.items;
        return [item?.current_streak, item?.best_streak];
      };
      /** Moves the clock a day on, lets the job open that day's occurrence, and decides it. */
      const day = async (status: 'completed' | 'expired') => {
        const open = (await tasksOf(user.id)).filter((task) => task.status === 'active');
        assert.equal(open.length, 1, JSON.stringify(open));
        await setStatus(open[0]?.id as number, status);
        now += DAY;
        await openOccurrences();
      };
      await day('completed');
      assert.deepEqual(await streaks(), [1, 1]);
      await day('completed');
      assert.deepEqual(await streaks(), [2, 2]);
      await day('expired');
      assert.deepEqual(await streaks(), [0, 2]);
      await day('completed');
      assert.deepEqual(await streaks(), [1, 2]);
      assert.deepEqual(
        (await ok<HabitBody>('GET', `/habits/${habit.id}`)).current_streak,
        1,
        'GET /habits/{id} says the same',
      );

      const board = await ok<{
        items: { user_id: number; current_streak: number; best_streak: number }[];
      }>('GET', '/leaderboard?limit=100');
      const entry = board.items.find((item) => item.user_id === user.id);
      assert.deepEqual([entry?.current_streak, entry?.best_streak], [1, 2]);
      const nobody = await createUser();
      const none = (await ok<typeof board>('GET', '/leaderboard?limit=100')).items.find(
        (item) => item.user_id === nobody.id,
      );
      assert.deepEqual([none?.current_streak, none?.best_streak], [0, 0]);
    });

    test('PATCH /habits/{id} changes the schedule (phrase or RRULE) and cancels', async () => {
      now = START;
      const user = await createUser({ timezone: 'Europe/Paris' });
      const habit = await ok<HabitBody>('POST', '/habits', {
        user_id: user.id,
        description: 'Stretch',
        schedule: 'every day at 21:00',
      });
      const changed = await ok<HabitBody>('PATCH', `/habits/${habit.id}`, {
        schedule: 'every mon wed fri at 7am',
        description: 'Stretch well',
        points: 5,
      });
      assert.equal(changed.rrule, 'FREQ=WEEKLY;BYDAY=MO,WE,FR');
      assert.equal(changed.local_time, '07:00');
      assert.equal(changed.schedule_text, 'every mon wed fri at 7am');
      assert.equal(changed.description, 'Stretch well');
      assert.equal(changed.points, 5);
      assert.equal(changed.next_due_at, '2026-03-04T06:00:00.000Z', 'Wednesday 07:00 in Paris');
      const byRule = await ok<HabitBody>('PATCH', `/habits/${habit.id}`, {
        schedule: 'RRULE:FREQ=WEEKLY;BYDAY=TU;BYHOUR=6;BYMINUTE=30',
      });
      assert.deepEqual([byRule.rrule, byRule.local_time], ['FREQ=WEEKLY;BYDAY=TU', '06:30']);

      expectError(
        await request('PATCH', `/habits/${habit.id}`, {
          schedule: 'now and then',
          description: 'Not this',
        }),
        400,
        'validation_failed',
        /schedule must be a phrase such as .*or an RRULE/,
      );
      const unchanged = await ok<HabitBody>('GET', `/habits/${habit.id}`);
      assert.deepEqual([unchanged.rrule, unchanged.description], [byRule.rrule, 'Stretch well']);
      expectError(
        await request('PATCH', `/habits/${habit.id}`, {}),
        400,
        'validation_failed',
        /Nothing to change/,
      );

      const cancelled = await ok<HabitBody>('PATCH', `/habits/${habit.id}`, {
        status: 'cancelled',
      });
      assert.equal(cancelled.status, 'cancelled');
      const occurrences = (await tasksOf(user.id)).filter((task) => task.habit_id === habit.id);
      assert.ok(occurrences.length > 0);
      assert.ok(occurrences.every((task) => task.status === 'cancelled'));
      expectError(
        await request('PATCH', `/habits/${habit.id}`, { description: 'Again' }),
        409,
        'conflict',
        /is cancelled; only active habits/,
      );
      expectError(
        await request('PATCH', `/habits/${habit.id + 1000}`, { points: 1 }),
        404,
        'not_found',
        /No habit with id/,
      );
      expectError(
        await request('PATCH', `/habits/${habit.id}`, { status: 'active' }),
        400,
        'validation_failed',
        /status/,
      );
    });

    test('a one-off task answers habit_id null', async () => {
      now = START;
      const user = await createUser();
      const task = await ok<TaskBody>('POST', '/tasks', {
        user_id: user.id,
        description: 'Once',
        due_time: new Date(START + DAY).toISOString(),
      });
      assert.equal(task.habit_id, null);
    });

    test('GET /users/{id} says the zone in effect and where it comes from, the pause, the opt-out', async () => {
      now = START;
      const own = await createUser({ timezone: 'America/Chicago' });
      const french = await createUser({ phone_number: '+33612345678' });
      const american = await createUser();
      const get = (id: number) => ok<UserBody>('GET', `/users/${id}`);
      assert.deepEqual(
        [(await get(own.id)).zone_in_effect, (await get(own.id)).zone_source],
        ['America/Chicago', 'set'],
      );
      const fromPhone = await get(french.id);
      assert.deepEqual(
        [fromPhone.timezone, fromPhone.zone_in_effect, fromPhone.zone_source],
        [null, 'Europe/Paris', 'phone'],
      );
      const fallback = await get(american.id);
      assert.deepEqual([fallback.zone_in_effect, fallback.zone_source], ['Asia/Tokyo', 'default']);
      assert.equal(fallback.pause, null);
      assert.equal(fallback.opted_out_at, null);

      // A pause of three local days from now, as `pause 3 days` records it.
      await t.database.db.query(
        `INSERT INTO pauses (user_id, first_day, last_day, starts_at, ends_at)
         VALUES ($1, '2026-03-02', '2026-03-04', $2::timestamptz, '2026-03-04T15:00:00Z')`,
        [american.id, new Date(START)],
      );
      await t.database.db.query(
        `UPDATE users SET opted_out_at = $2::timestamptz, opt_out_source = 'keyword' WHERE id = $1`,
        [american.id, new Date(START)],
      );
      const paused = await get(american.id);
      assert.deepEqual(paused.pause, {
        first_day: '2026-03-02',
        last_day: '2026-03-04',
        ends_at: '2026-03-04T15:00:00.000Z',
      });
      assert.equal(paused.opted_out_at, '2026-03-02T08:00:00.000Z');
      assert.equal(paused.opt_out_source, 'keyword');
      const listed = (await ok<{ items: UserBody[] }>('GET', '/users?limit=100')).items;
      assert.deepEqual(listed.find((user) => user.id === american.id)?.pause, paused.pause);
      assert.equal(listed.find((user) => user.id === french.id)?.zone_in_effect, 'Europe/Paris');

      now = Date.parse('2026-03-04T15:00:00Z');
      assert.equal((await get(american.id)).pause, null, 'over once it ends');
    });
  });
}
