import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import type { ClaimedMessage } from '../src/db/message-queue.js';
import { findMessageById } from '../src/db/messages.js';
import { createUser } from '../src/db/users.js';
import {
  computeStreaks,
  nextOccurrence,
  parseSchedule,
  splitHabitText,
} from '../src/domain/habit.js';
import type { StoredMedia } from '../src/domain/message.js';
import { createHabitOccurrenceJob } from '../src/jobs/habit-occurrences.js';
import { runAccountabilityLoop } from '../src/services/accountability.js';
import { type NoticeSettings, expireNextOverdueTask } from '../src/services/task-notices.js';
import { type TestDatabase, engines, postgresOnly } from './helpers/databases.js';
import { quietLog, storeMessages } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('habit schedules: rrule for the days, chrono-node for the time', () => {
  test('the phrases of the issue', () => {
    assert.deepEqual(parseSchedule('every day at 21:00'), {
      rrule: 'FREQ=DAILY',
      localTime: '21:00',
      weeklyQuota: null,
    });
    assert.deepEqual(parseSchedule('every mon wed fri at 7am'), {
      rrule: 'FREQ=WEEKLY;BYDAY=MO,WE,FR',
      localTime: '07:00',
      weeklyQuota: null,
    });
    assert.deepEqual(parseSchedule('weekdays 8:00'), {
      rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR',
      localTime: '08:00',
      weeklyQuota: null,
    });
    assert.deepEqual(parseSchedule('3 times a week'), {
      rrule: 'FREQ=WEEKLY;BYDAY=SU',
      localTime: '23:59',
      weeklyQuota: 3,
    });
    assert.deepEqual(parseSchedule('FREQ=WEEKLY;BYDAY=TU;BYHOUR=6;BYMINUTE=30'), {
      rrule: 'FREQ=WEEKLY;BYDAY=TU',
      localTime: '06:30',
      weeklyQuota: null,
    });
    assert.equal(parseSchedule('whenever I feel like it'), null);
    assert.equal(parseSchedule('FREQ=HOURLY'), null, 'more often than daily is no habit');
  });

  test('the description ends where a schedule starts', () => {
    assert.equal(splitHabitText('Read 20 pages every day at 21:00')?.description, 'Read 20 pages');
    assert.equal(splitHabitText('Check every drawer every day')?.description, 'Check every drawer');
    assert.equal(splitHabitText('Run 3 times a week')?.schedule.weeklyQuota, 3);
    assert.equal(splitHabitText('Run whenever'), null);
  });

  // New York's clocks go forward on Sunday 8 March 2026, Paris's on Sunday 29 March.
  for (const { zone, change, before: offsetBefore, after: offsetAfter } of [
    { zone: 'America/New_York', change: '2026-03-08', before: -5, after: -4 },
    { zone: 'Europe/Paris', change: '2026-03-29', before: 1, after: 2 },
  ]) {
    test(`07:00 stays 07:00 local across the DST change in ${zone}`, () => {
      const rule = {
        rrule: 'FREQ=DAILY',
        localTime: '07:00',
        timeZone: zone,
        weeklyQuota: null,
        anchor: '2026-03-01',
      };
      const dayBefore = new Date(`${change}T00:00:00Z`).getTime() - DAY;
      const first = nextOccurrence(rule, new Date(dayBefore));
      assert.ok(first);
      const second = nextOccurrence(rule, first.dueAt);
      assert.ok(second);
      assert.equal(second.localDate, change);
      assert.equal(first.dueAt.getUTCHours(), (7 - offsetBefore + 24) % 24);
      assert.equal(second.dueAt.getUTCHours(), (7 - offsetAfter + 24) % 24);
      assert.equal(second.dueAt.getTime() - first.dueAt.getTime(), DAY - HOUR, '23 hours apart');
    });
  }

  test('a weekly quota is due at the end of the person’s week (Sunday), in two zones', () => {
    for (const [zone, due] of [
      ['America/New_York', '2026-03-16T03:59:00.000Z'],
      ['Europe/Paris', '2026-03-15T22:59:00.000Z'],
    ] as const) {
      const week = nextOccurrence(
        {
          rrule: 'FREQ=WEEKLY;BYDAY=SU',
          localTime: '23:59',
          timeZone: zone,
          weeklyQuota: 3,
          anchor: '2026-03-09',
        },
        new Date('2026-03-10T12:00:00Z'),
      );
      assert.equal(week?.localDate, '2026-03-09', 'the week starts on Monday');
      assert.equal(week?.dueAt.toISOString(), due);
    }
  });

  test('streaks: completed counts, expired breaks, cancelled (paused) is skipped', () => {
    const days = (statuses: string[]) =>
      statuses.map((status, i) => ({
        occurrence_date: `2026-03-${String(i + 1).padStart(2, '0')}`,
        status: status as 'completed',
      }));
    assert.deepEqual(
      computeStreaks(days(['completed', 'completed', 'expired', 'completed']), null),
      { current: 1, best: 2 },
    );
    assert.deepEqual(
      computeStreaks(days(['completed', 'cancelled', 'completed', 'active']), null),
      { current: 2, best: 2 },
    );
    const week = (date: string, statuses: string[]) =>
      statuses.map((status) => ({ occurrence_date: date, status: status as 'completed' }));
    assert.deepEqual(
      computeStreaks(
        [
          ...week('2026-03-02', ['completed', 'completed', 'completed']),
          ...week('2026-03-09', ['completed', 'completed', 'expired']),
          ...week('2026-03-16', ['completed', 'completed', 'completed']),
          ...week('2026-03-23', ['completed', 'active', 'active']),
        ],
        3,
      ),
      { current: 1, best: 1 },
    );
  });
});

for (const engine of engines) {
  describe(`habits over WhatsApp [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    let phoneSeq = 0;
    before(async () => {
      t = await engine.create();
    });
    after(async () => t?.destroy());

    const person = async (timezone: string) => {
      phoneSeq += 1;
      const phone = `+1555${String(process.pid % 1000).padStart(3, '0')}${String(phoneSeq).padStart(4, '0')}`;
      const user = await createUser(t.db, {
        username: `h${phoneSeq}`,
        phone_number: phone,
        timezone,
      });
      return { id: user.id, phone };
    };

    async function message(phone: string, body: string, at: Date): Promise<ClaimedMessage> {
      const [id] = await storeMessages(t.db, [{ from: phone, to: GROUP_NUMBER, body }]);
      await t.db.query(`UPDATE messages SET created_at = $2 WHERE id = $1`, [id, at]);
      const row = await findMessageById(t.db, id as number);
      assert.ok(row);
      return { ...row, attempts: 1, claims: 1 };
    }

    async function processAt(
      db: Database,
      claimed: ClaimedMessage,
      now: Date,
      stored: StoredMedia[] = [],
      pauseMaxDaysPer30?: number,
    ): Promise<string> {
      await db.transaction((tx) =>
        runAccountabilityLoop(tx, claimed, stored, {
          autoRegister: false,
          defaultTimezone: 'UTC',
          clock: () => now,
          reminderOffsets: [60, 15],
          ...(pauseMaxDaysPer30 === undefined ? {} : { pauseMaxDaysPer30 }),
        }),
      );
      // Processed, as the worker marks it in the same transaction: a pending message sent
      // before a due time holds that task back from expiring.
      await db.query(`UPDATE messages SET processing_status = 'processed' WHERE id = $1`, [
        claimed.id,
      ]);
      const [reply] = await db.query<{ body: string }>(
        `SELECT body FROM outbound_messages WHERE inbound_message_id = $1 AND kind = 'reply'`,
        [claimed.id],
      );
      return reply?.body ?? '';
    }

    const say = async (phone: string, body: string, now: Date, max?: number) =>
      processAt(t.db, await message(phone, body, now), now, [], max);

    /** A photo (new bytes each time) sent at `now`. */
    const photo = async (phone: string, now: Date) => {
      const claimed = await message(phone, '', now);
      const sha256 = randomBytes(32).toString('hex');
      return processAt(t.db, claimed, now, [
        {
          index: 0,
          key: `messages/${claimed.id}/0.jpg`,
          content_type: 'image/jpeg',
          size: 100,
          sha256,
          dhash: null,
        },
      ]);
    };

    const job = (now: () => Date) =>
      createHabitOccurrenceJob(t.db, { pollMs: 1000, log: quietLog, offsets: [60], clock: now });

    const occurrences = (userId: number) =>
      t.db.query<{ id: number; due_time: Date; status: string; day: string; habit_id: number }>(
        `SELECT id, due_time, status, to_char(occurrence_date, 'YYYY-MM-DD') AS day, habit_id
         FROM tasks WHERE user_id = $1 AND habit_id IS NOT NULL ORDER BY occurrence_date, id`,
        [userId],
      );

    test('habit … every day at 21:00: one task a day at 21:00 local across the DST change, in two zones', async () => {
      for (const [zone, firstDue, afterChange] of [
        ['America/New_York', '2026-03-07T02:00:00.000Z', '2026-03-09T01:00:00.000Z'],
        ['Europe/Paris', '2026-03-28T20:00:00.000Z', '2026-03-29T19:00:00.000Z'],
      ] as const) {
        const someone = await person(zone);
        // Noon local the day before the change (NY: Friday 6 March; Paris: Saturday 28).
        let now = new Date(new Date(firstDue).getTime() - 9 * HOUR);
        const reply = await say(someone.phone, 'habit Read 20 pages every day at 21:00', now);
        assert.match(reply, /Habit h1: "Read 20 pages"/);
        // Today's occurrence is created with the habit; the job creates each next one as its day starts.
        const clock = () => now;
        for (let day = 0; day < 3; day += 1) {
          await job(clock).runDue();
          now = new Date(now.getTime() + DAY);
        }
        const rows = await occurrences(someone.id);
        assert.equal(rows[0]?.due_time.toISOString(), firstDue);
        assert.ok(
          rows.some((row) => row.due_time.toISOString() === afterChange),
          `${zone}: 21:00 local after the change`,
        );
        assert.equal(new Set(rows.map((row) => row.day)).size, rows.length, 'one a day');
      }
    });

    test('proved three days running: streak 3 in the reply, habits and streak; a pause keeps it; expiry breaks it', async () => {
      const someone = await person('Europe/Paris');
      let now = new Date('2026-03-02T08:00:00Z'); // Monday 09:00 in Paris
      await say(someone.phone, 'habit Gym every day at 20:00', now);
      const clock = () => now;
      let reply = '';
      for (let day = 0; day < 3; day += 1) {
        await job(clock).runDue();
        reply = await photo(someone.phone, now);
        now = new Date(now.getTime() + DAY);
      }
      assert.match(reply, /is done!.*"Gym" streak: 3 in a row/s);
      assert.match(await say(someone.phone, 'streak', now), /Gym: 3 in a row \(best 3\)/);
      assert.match(await say(someone.phone, 'habits', now), /h1\. Gym: .*streak 3 in a row/);

      // Thursday: pause 1 day. Today's occurrence is taken out; nothing expires.
      await job(clock).runDue();
      assert.match(await say(someone.phone, 'pause 1 day', now), /Paused for 1 day/);
      now = new Date(now.getTime() + 14 * HOUR); // Thursday 23:00, past 20:00
      await expireNextOverdueTask(t.db, noticeSettings, now);
      now = new Date(now.getTime() + 10 * HOUR); // Friday 09:00
      await job(clock).runDue();
      reply = await photo(someone.phone, now);
      assert.match(reply, /streak: 4 in a row/, 'the paused day did not break the run');

      // Saturday's occurrence expires: the streak is broken.
      now = new Date(now.getTime() + DAY);
      await job(clock).runDue();
      now = new Date(now.getTime() + 13 * HOUR); // Saturday 22:00
      while (await expireNextOverdueTask(t.db, noticeSettings, now));
      assert.match(await say(someone.phone, 'streak', now), /Gym: 0 in a row \(best 4\)/);
      const statuses = (await occurrences(someone.id)).map((row) => row.status);
      assert.deepEqual(statuses, [
        'completed',
        'completed',
        'completed',
        'cancelled',
        'completed',
        'expired',
      ]);
    });

    test('a weekly quota: three proofs in the week count one week', async () => {
      const someone = await person('America/New_York');
      const now = new Date('2026-03-02T15:00:00Z'); // Monday 10:00 in New York
      assert.match(await say(someone.phone, 'habit Run 3 times a week', now), /3 times a week/);
      const rows = await occurrences(someone.id);
      assert.equal(rows.length, 3);
      assert.ok(rows.every((row) => row.due_time.toISOString() === '2026-03-09T03:59:00.000Z'));
      let reply = '';
      for (let i = 0; i < 3; i += 1)
        reply = await photo(someone.phone, new Date(now.getTime() + i * DAY));
      assert.match(reply, /"Run" streak: 1 week in a row/);
    });

    test('the pause limit: 14 days in 30 by default, configurable', async () => {
      const someone = await person('Europe/Paris');
      const now = new Date('2026-04-01T08:00:00Z');
      assert.match(await say(someone.phone, 'pause 15 days', now), /more than 14 paused days/);
      assert.match(await say(someone.phone, 'pause 10 days', now), /Paused for 10 days/);
      const later = new Date(now.getTime() + 10 * DAY);
      assert.match(await say(someone.phone, 'pause 5 days', later), /pause 4 more days/);
      assert.match(await say(someone.phone, 'pause 5 days', later, 20), /Paused for 5 days/);
      const [count] = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pauses WHERE user_id = $1`,
        [someone.id],
      );
      assert.equal(count?.n, 2, 'refused pauses are not recorded');
    });

    test('undo removes the habit the last command created', async () => {
      const someone = await person('UTC');
      const now = new Date('2026-03-02T08:00:00Z');
      await say(someone.phone, 'habit Stretch weekdays 18:00', now);
      assert.equal((await occurrences(someone.id)).length, 1);
      assert.match(await say(someone.phone, 'undo', new Date(now.getTime() + 60_000)), /removed/);
      assert.equal((await occurrences(someone.id)).length, 0);
      assert.match(await say(someone.phone, 'habits', now), /no habits/);
    });

    test(
      'two instances of the job create each occurrence once',
      { skip: postgresOnly(engine) },
      async () => {
        const someone = await person('Europe/Paris');
        let now = new Date('2026-05-04T06:00:00Z');
        for (let i = 0; i < 20; i += 1) {
          await say(someone.phone, `habit Habit${i} every day at 21:00`, now);
        }
        now = new Date(now.getTime() + DAY);
        const clock = () => now;
        await Promise.all([job(clock).runDue(), job(clock).runDue(), job(clock).runDue()]);
        const rows = await occurrences(someone.id);
        const perHabit = new Map<number, number>();
        for (const row of rows) perHabit.set(row.habit_id, (perHabit.get(row.habit_id) ?? 0) + 1);
        assert.equal(perHabit.size, 20);
        assert.ok(
          [...perHabit.values()].every((n) => n === 2),
          'today’s and tomorrow’s, once each',
        );
      },
    );
  });
}

const noticeSettings = {
  offsets: [60],
  defaultTimezone: 'UTC',
  whatsappNumber: null,
  smsNumber: null,
  contentSid: null,
  smsFallback: false,
} satisfies Partial<NoticeSettings> as NoticeSettings;
