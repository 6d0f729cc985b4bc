import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ClaimedMessage } from '../src/db/message-queue.js';
import { findMessageById } from '../src/db/messages.js';
import { createUser } from '../src/db/users.js';
import { firstOccurrence } from '../src/domain/habit.js';
import { createHabitOccurrenceJob } from '../src/jobs/habit-occurrences.js';
import { runAccountabilityLoop } from '../src/services/accountability.js';
import { getHabit } from '../src/services/habits.js';
import { type NoticeSettings, expireNextOverdueTask } from '../src/services/task-notices.js';
import { type TestDatabase, engines } from './helpers/databases.js';
import { quietLog, storeMessages } from './helpers/worker.js';

/**
 * `habit Gym 3 times a week`: the week it is set in counts when enough days are left (as in
 * Habitica or Streaks), and then the reply, the occurrences and the streak all speak of that
 * week's round, due at the end of its Sunday in the person's zone. Every time comes from an
 * injected clock. 2026-12-01 is a Tuesday.
 */

const GROUP_NUMBER = '+14155238886';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const quota = (zone: string) => ({
  rrule: 'FREQ=WEEKLY;BYDAY=SU',
  localTime: '23:59',
  timeZone: zone,
  weeklyQuota: 3,
  anchor: '2026-12-01',
});

describe('a quota habit’s first round', () => {
  test('set on a Tuesday: this week, Monday to Sunday, due Sunday 23:59 local', () => {
    const first = firstOccurrence(quota('Europe/Paris'), new Date('2026-12-01T11:00:00Z'));
    assert.equal(first?.localDate, '2026-11-30');
    assert.equal(first?.dueAt.toISOString(), '2026-12-06T22:59:00.000Z');
    assert.equal(first?.opensAt.toISOString(), '2026-11-29T23:00:00.000Z');
  });

  test('set with fewer days left than the quota (Saturday, 2 days for 3): next week', () => {
    const first = firstOccurrence(quota('Europe/Paris'), new Date('2026-12-05T11:00:00Z'));
    assert.equal(first?.localDate, '2026-12-07');
    assert.equal(first?.dueAt.toISOString(), '2026-12-13T22:59:00.000Z');
  });

  test('the local week, not UTC’s, near midnight', () => {
    // Monday 7 Dec 00:30 in Auckland is still Sunday in UTC: the new local week, 7 days left.
    const auckland = firstOccurrence(quota('Pacific/Auckland'), new Date('2026-12-06T11:30:00Z'));
    assert.equal(auckland?.localDate, '2026-12-07');
    assert.equal(auckland?.dueAt.toISOString(), '2026-12-13T10:59:00.000Z');
    // Monday 30 Nov 23:30 in Los Angeles is Tuesday in UTC: the week that started that Monday.
    const la = firstOccurrence(quota('America/Los_Angeles'), new Date('2026-12-01T07:30:00Z'));
    assert.equal(la?.localDate, '2026-11-30');
    assert.equal(la?.dueAt.toISOString(), '2026-12-07T07:59:00.000Z');
  });
});

for (const engine of engines) {
  describe(`quota rounds over WhatsApp [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    let seq = 0;
    before(async () => {
      t = await engine.create();
    });
    after(async () => t?.destroy());

    const person = async (timezone: string) => {
      seq += 1;
      const phone = `+1556${String(process.pid % 1000).padStart(3, '0')}${String(seq).padStart(4, '0')}`;
      const user = await createUser(t.db, { username: `q${seq}`, phone_number: phone, timezone });
      return { id: user.id, phone };
    };

    async function message(phone: string, body: string, at: Date): Promise<ClaimedMessage> {
      const [id] = await storeMessages(t.db, [{ from: phone, to: GROUP_NUMBER, body }]);
      await t.db.query(`UPDATE messages SET created_at = $2 WHERE id = $1`, [id, at]);
      const row = await findMessageById(t.db, id as number);
      assert.ok(row);
      return { ...row, attempts: 1, claims: 1 };
    }

    /** Runs the accountability loop on `claimed` at `now` and returns the reply it recorded. */
    async function processAt(claimed: ClaimedMessage, now: Date, photo: boolean): Promise<string> {
      const stored = photo
        ? [
            {
              index: 0,
              key: `messages/${claimed.id}/0.jpg`,
              content_type: 'image/jpeg',
              size: 100,
              sha256: randomBytes(32).toString('hex'),
              dhash: null,
            },
          ]
        : [];
      await t.db.transaction((tx) =>
        runAccountabilityLoop(tx, claimed, stored, {
          autoRegister: false,
          defaultTimezone: 'UTC',
          clock: () => now,
          reminderOffsets: [60],
        }),
      );
      await t.db.query(`UPDATE messages SET processing_status = 'processed' WHERE id = $1`, [
        claimed.id,
      ]);
      const [reply] = await t.db.query<{ body: string }>(
        `SELECT body FROM outbound_messages WHERE inbound_message_id = $1 AND kind = 'reply'`,
        [claimed.id],
      );
      return reply?.body ?? '';
    }

    const say = async (phone: string, body: string, now: Date) =>
      processAt(await message(phone, body, now), now, false);
    const photo = async (phone: string, now: Date) =>
      processAt(await message(phone, '', now), now, true);

    /** The occurrence job and the expiry scheduler, as they would have run by `now`. */
    async function clockWork(now: Date): Promise<void> {
      await createHabitOccurrenceJob(t.db, {
        pollMs: 1000,
        log: quietLog,
        offsets: [60],
        clock: () => now,
      }).runDue();
      while (await expireNextOverdueTask(t.db, noticeSettings, now));
    }

    const occurrences = (userId: number) =>
      t.db.query<{ due_time: Date; status: string; week: string; habit_id: number }>(
        `SELECT due_time, status, to_char(occurrence_date, 'YYYY-MM-DD') AS week, habit_id
         FROM tasks WHERE user_id = $1 AND habit_id IS NOT NULL ORDER BY occurrence_date, id`,
        [userId],
      );

    test('set on Tuesday: the reply, the occurrences and the streak are this week’s round', async () => {
      const someone = await person('Europe/Paris');
      const tuesday = new Date('2026-12-01T11:00:00Z'); // 12:00 in Paris
      const reply = await say(someone.phone, 'habit Gym 3 times a week', tuesday);
      assert.match(reply, /Habit h1: "Gym", 3 times a week \(Europe\/Paris\)/);
      assert.match(reply, /This week counts: 3 by Sun 6 Dec 2026, 23:59 \(Europe\/Paris\)\./);
      assert.doesNotMatch(reply, /13 Dec/, 'not next week’s round');

      const rows = await occurrences(someone.id);
      assert.equal(rows.length, 3, 'this week’s three, open now');
      assert.ok(rows.every((row) => row.week === '2026-11-30' && row.status === 'active'));
      assert.ok(rows.every((row) => row.due_time.toISOString() === '2026-12-06T22:59:00.000Z'));

      const first = await photo(someone.phone, tuesday);
      assert.match(first, /"Gym" is done!/);
      assert.match(first, /This week: 1 of 3 done, 2 to go; it counts for the streak once all 3/);
      assert.match(first, /"Gym" streak: 0 weeks in a row\./);
      await photo(someone.phone, new Date(tuesday.getTime() + DAY));
      const third = await photo(someone.phone, new Date('2026-12-06T21:00:00Z')); // Sun 22:00
      assert.match(third, /This week: 3 of 3 done, so it counts\./);
      assert.match(third, /"Gym" streak: 1 week in a row\./);

      // The round closes Sunday 23:59; on Monday next week's round opens and the week stays met.
      const monday = new Date('2026-12-07T08:00:00Z');
      await clockWork(monday);
      assert.match(await say(someone.phone, 'streak', monday), /Gym: 1 week in a row \(best 1\)/);
      assert.match(await say(someone.phone, 'habits', monday), /h1\. Gym: .*streak 1 week/);
      const weeks = await occurrences(someone.id);
      assert.deepEqual(
        weeks.map((row) => `${row.week} ${row.status}`),
        [...Array(3).fill('2026-11-30 completed'), ...Array(3).fill('2026-12-07 active')],
      );
      const habit = await getHabit({ db: t.db }, Number(weeks[0]?.habit_id));
      assert.equal(habit.current_streak, 1);
      assert.equal(habit.next_due_at?.toISOString(), '2026-12-20T22:59:00.000Z');
    });

    test('a round not met breaks the streak when it closes', async () => {
      const someone = await person('Europe/Paris');
      const tuesday = new Date('2026-12-01T11:00:00Z');
      await say(someone.phone, 'habit Swim 2 times a week', tuesday);
      assert.match(await photo(someone.phone, tuesday), /1 of 2 done, 1 to go/);
      await clockWork(new Date('2026-12-07T08:00:00Z'));
      assert.deepEqual(
        (await occurrences(someone.id)).slice(0, 2).map((row) => row.status),
        ['completed', 'expired'],
      );
      assert.match(
        await say(someone.phone, 'streak', new Date('2026-12-07T08:00:00Z')),
        /Swim: 0 weeks in a row \(best 0\)/,
      );
    });

    test('set with too few days left: next week’s round, and a photo now completes nothing', async () => {
      const someone = await person('Europe/Paris');
      const saturday = new Date('2026-12-05T11:00:00Z');
      const reply = await say(someone.phone, 'habit Gym 3 times a week', saturday);
      assert.match(
        reply,
        /Too few days are left this week, so the first round starts Mon 7 Dec; it is due Sun 13 Dec 2026, 23:59 \(Europe\/Paris\)\./,
      );
      assert.equal((await occurrences(someone.id)).length, 0, 'nothing open this week');
      assert.match(await photo(someone.phone, saturday), /no active task right now/);
      await clockWork(new Date('2026-12-06T23:30:00Z')); // Monday 00:30 in Paris
      const rows = await occurrences(someone.id);
      assert.equal(rows.length, 3);
      assert.ok(rows.every((row) => row.week === '2026-12-07' && row.status === 'active'));
    });

    test('near midnight in the person’s zone: the local week decides, either side of Sunday 23:59', async () => {
      const someone = await person('America/Los_Angeles');
      // Monday 30 Nov 23:30 in Los Angeles, already Tuesday in UTC.
      const set = new Date('2026-12-01T07:30:00Z');
      assert.match(
        await say(someone.phone, 'habit Run 3 times a week', set),
        /This week counts: 3 by Sun 6 Dec 2026, 23:59 \(America\/Los_Angeles\)\./,
      );
      await photo(someone.phone, set);
      await photo(someone.phone, new Date(set.getTime() + DAY));
      // Sunday 6 Dec 23:30 local, Monday 07:30 in UTC: still this round.
      const sunday = new Date('2026-12-07T07:30:00Z');
      assert.match(await photo(someone.phone, sunday), /3 of 3 done.*streak: 1 week in a row/s);
      // Monday 00:30 local: next week's round has opened; its first photo counts there.
      const monday = new Date('2026-12-07T08:30:00Z');
      await clockWork(monday);
      const next = await photo(someone.phone, monday);
      assert.match(next, /This week: 1 of 3 done, 2 to go/);
      assert.match(next, /"Run" streak: 1 week in a row/);
      const rows = await occurrences(someone.id);
      assert.deepEqual(
        rows.map((row) => `${row.week} ${row.status}`),
        [
          ...Array(3).fill('2026-11-30 completed'),
          '2026-12-07 completed',
          '2026-12-07 active',
          '2026-12-07 active',
        ],
      );
    });
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
