import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import type { ClaimedMessage } from '../src/db/message-queue.js';
import { findMessageById } from '../src/db/messages.js';
import { createUser } from '../src/db/users.js';
import type { TaskRow } from '../src/domain/task.js';
import { runAccountabilityLoop } from '../src/services/accountability.js';
import { parseCommand } from '../src/services/commands/index.js';
import { parseDuePhrase } from '../src/services/due-phrases.js';
import { lookUpZone, personTimeZone } from '../src/services/time-zones.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { type TestDatabase, engines } from './helpers/databases.js';
import { expectError } from './helpers/errors.js';
import { storeMessages } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';
const HOUR = 3_600_000;
const MINUTE = 60_000;
// Saturday 7 March 2026, 10:00 in New York and 16:00 in Paris. New York's clocks go forward
// at 02:00 on Sunday 8 March; Paris's at 02:00 on Sunday 29 March.
const SATURDAY = new Date('2026-03-07T15:00:00Z');
const BEFORE_PARIS_CHANGE = new Date('2026-03-28T12:00:00Z');

describe('new <what> <when>: read in the person’s zone, across daylight-saving changes', () => {
  const cases: {
    text: string;
    now: Date;
    zone: string;
    what: string;
    due: string;
  }[] = [
    // New York: "tomorrow 7am" is 07:00 EDT, after the change in the night: 11:00 UTC, not 12:00.
    {
      text: 'Run 5k tomorrow 7am',
      now: SATURDAY,
      zone: 'America/New_York',
      what: 'Run 5k',
      due: '2026-03-08T11:00:00.000Z',
    },
    {
      text: 'Run 5k tomorrow 7am',
      now: SATURDAY,
      zone: 'Europe/Paris',
      what: 'Run 5k',
      due: '2026-03-08T06:00:00.000Z',
    },
    {
      text: 'Run 5k tomorrow 7am',
      now: BEFORE_PARIS_CHANGE,
      zone: 'Europe/Paris',
      what: 'Run 5k',
      due: '2026-03-29T05:00:00.000Z',
    },
    {
      text: 'Run 5k tomorrow 7am',
      now: BEFORE_PARIS_CHANGE,
      zone: 'America/New_York',
      what: 'Run 5k',
      due: '2026-03-29T11:00:00.000Z',
    },
    // A span is exact whatever the clocks do: two hours are two hours.
    {
      text: 'Call mom in 2 hours',
      now: SATURDAY,
      zone: 'America/New_York',
      what: 'Call mom',
      due: '2026-03-07T17:00:00.000Z',
    },
    {
      text: 'Call mom in 2 hours',
      now: SATURDAY,
      zone: 'Europe/Paris',
      what: 'Call mom',
      due: '2026-03-07T17:00:00.000Z',
    },
    {
      text: 'Call mom in 2 hours',
      now: new Date('2026-03-08T06:30:00Z'),
      zone: 'America/New_York',
      what: 'Call mom',
      due: '2026-03-08T08:30:00.000Z',
    },
    // "friday" is the coming Friday, after New York's change (EDT) and before Paris's (CET).
    {
      text: 'Read chapter 3 friday 18:00',
      now: SATURDAY,
      zone: 'America/New_York',
      what: 'Read chapter 3',
      due: '2026-03-13T22:00:00.000Z',
    },
    {
      text: 'Read chapter 3 friday 18:00',
      now: SATURDAY,
      zone: 'Europe/Paris',
      what: 'Read chapter 3',
      due: '2026-03-13T17:00:00.000Z',
    },
    {
      text: 'Read chapter 3 friday 18:00',
      now: BEFORE_PARIS_CHANGE,
      zone: 'Europe/Paris',
      what: 'Read chapter 3',
      due: '2026-04-03T16:00:00.000Z',
    },
    // A day without a time is due at the end of that local day.
    {
      text: 'Pay rent by tomorrow',
      now: SATURDAY,
      zone: 'America/New_York',
      what: 'Pay rent',
      due: '2026-03-09T03:59:00.000Z',
    },
    {
      text: 'Pay rent by tomorrow',
      now: SATURDAY,
      zone: 'Europe/Paris',
      what: 'Pay rent',
      due: '2026-03-08T22:59:00.000Z',
    },
    {
      text: 'Call the bank at 5pm',
      now: SATURDAY,
      zone: 'Europe/Paris',
      what: 'Call the bank',
      due: '2026-03-07T16:00:00.000Z',
    },
  ];
  for (const c of cases) {
    test(`"${c.text}" at ${c.now.toISOString()} in ${c.zone}`, () => {
      assert.deepEqual(parseDuePhrase(c.text, { now: c.now, zone: c.zone }), {
        outcome: 'due',
        what: c.what,
        due: new Date(c.due),
      });
    });
  }

  test('no recognisable time, nothing to do, or a time already passed, in both zones', () => {
    for (const zone of ['America/New_York', 'Europe/Paris']) {
      assert.deepEqual(parseDuePhrase('Run 5k', { now: SATURDAY, zone }), {
        outcome: 'no_time',
        what: 'Run 5k',
      });
      assert.deepEqual(parseDuePhrase('tomorrow 7am', { now: SATURDAY, zone }), {
        outcome: 'no_what',
      });
      // 10:00 in New York and 16:00 in Paris: 07:00 today has passed in both.
      assert.equal(parseDuePhrase('Run today 7am', { now: SATURDAY, zone }).outcome, 'past');
      assert.equal(parseDuePhrase('Run yesterday 9pm', { now: SATURDAY, zone }).outcome, 'past');
    }
    // 12:00 today is still ahead in New York (10:00) and past in Paris (16:00).
    assert.equal(
      parseDuePhrase('Lunch today 12:00', { now: SATURDAY, zone: 'America/New_York' }).outcome,
      'due',
    );
    assert.equal(
      parseDuePhrase('Lunch today 12:00', { now: SATURDAY, zone: 'Europe/Paris' }).outcome,
      'past',
    );
  });
});

describe('time zones: tz names, cities, and the zone a phone number implies', () => {
  test('an IANA name in any case, or a city naming one zone', () => {
    assert.deepEqual(lookUpZone('Europe/Paris'), { outcome: 'found', zone: 'Europe/Paris' });
    assert.deepEqual(lookUpZone('europe/paris'), { outcome: 'found', zone: 'Europe/Paris' });
    assert.deepEqual(lookUpZone('Paris'), { outcome: 'found', zone: 'Europe/Paris' });
    assert.deepEqual(lookUpZone('new york'), { outcome: 'found', zone: 'America/New_York' });
    assert.deepEqual(lookUpZone('São Paulo'), { outcome: 'found', zone: 'America/Sao_Paulo' });
    // Names the runtime accepts without listing them (it lists Asia/Calcutta).
    assert.deepEqual(lookUpZone('Kolkata'), { outcome: 'found', zone: 'Asia/Kolkata' });
    assert.deepEqual(lookUpZone('UTC'), { outcome: 'found', zone: 'UTC' });
    assert.deepEqual(lookUpZone('Atlantis'), { outcome: 'unknown' });
    assert.deepEqual(lookUpZone('+01:00'), { outcome: 'unknown' });
  });

  test("own zone first, else the phone number's country when it keeps one time, else TZ", () => {
    const user = (timezone: string | null, phone_number: string | null) => ({
      timezone,
      phone_number,
    });
    assert.equal(personTimeZone(user('Asia/Tokyo', '+33612345678'), 'UTC'), 'Asia/Tokyo');
    assert.equal(personTimeZone(user(null, '+33612345678'), 'UTC'), 'Europe/Paris');
    assert.equal(personTimeZone(user(null, '+447400123456'), 'UTC'), 'Europe/London');
    // Germany's two zones (Berlin, Büsingen) keep the same time: one zone.
    assert.equal(personTimeZone(user(null, '+4915112345678'), 'UTC'), 'Europe/Berlin');
    // The United States, Spain (Canary Islands) and Brazil have several: TZ.
    assert.equal(personTimeZone(user(null, '+12125551234'), 'Asia/Tokyo'), 'Asia/Tokyo');
    assert.equal(personTimeZone(user(null, '+34612345678'), 'Asia/Tokyo'), 'Asia/Tokyo');
    assert.equal(personTimeZone(user(null, '+5511912345678'), 'Asia/Tokyo'), 'Asia/Tokyo');
    assert.equal(personTimeZone(user(null, null), 'America/Chicago'), 'America/Chicago');
    assert.equal(personTimeZone(user(null, null), undefined), 'UTC');
  });

  test('the new commands are in the table, first word in any case', () => {
    for (const word of ['new', 'NEW', 'tasks', 'cancel', 'undo', 'tz', 'Timezone', 'Sharing']) {
      assert.ok(parseCommand(`${word} x`), word);
    }
  });
});

for (const engine of engines) {
  describe(
    `self-service commands in the accountability loop [${engine.name}]`,
    {
      skip: engine.skip,
    },
    () => {
      let t: TestDatabase;
      let phoneSeq = 0;
      before(async () => {
        t = await engine.create();
      });
      after(async () => t?.destroy());

      const person = async (options: { phone?: string; timezone?: string | null } = {}) => {
        phoneSeq += 1;
        const phone =
          options.phone ??
          `+1555${String(process.pid % 1000).padStart(3, '0')}${String(phoneSeq).padStart(4, '0')}`;
        const user = await createUser(t.db, {
          username: `p${phoneSeq}`,
          phone_number: phone,
          timezone: options.timezone ?? null,
        });
        return { id: user.id, phone };
      };

      /** A stored message from `phone`, as a worker claims it. */
      async function message(phone: string, body: string): Promise<ClaimedMessage> {
        const [id] = await storeMessages(t.db, [{ from: phone, to: GROUP_NUMBER, body }]);
        const row = await findMessageById(t.db, id as number);
        assert.ok(row);
        return { ...row, attempts: 1, claims: 1 };
      }

      /** Processes `claimed` at `now` (again, when it was processed before); the reply. */
      async function processAt(db: Database, claimed: ClaimedMessage, now: Date): Promise<string> {
        await db.transaction((tx) =>
          runAccountabilityLoop(tx, claimed, [], {
            autoRegister: false,
            defaultTimezone: 'UTC',
            clock: () => now,
            reminderOffsets: [60, 15],
          }),
        );
        const [reply] = await db.query<{ body: string }>(
          `SELECT body FROM outbound_messages WHERE inbound_message_id = $1 AND kind = 'reply'`,
          [claimed.id],
        );
        return reply?.body ?? '';
      }

      /** Sends `body` from `phone` at `now`; the reply. */
      const say = async (phone: string, body: string, now: Date) =>
        processAt(t.db, await message(phone, body), now);

      const tasksOf = (userId: number) =>
        t.db.query<TaskRow & { created_by_message_id: number | null }>(
          `SELECT id, description, due_time, status, points, created_by_message_id
         FROM tasks WHERE user_id = $1 ORDER BY id`,
          [userId],
        );

      test('new creates the task due in the person’s zone, with reminders, and says its number, what and when', async () => {
        const ny = await person({ timezone: 'America/New_York' });
        const paris = await person({ phone: '+33612345678' }); // zone inferred from +33
        const nyReply = await say(ny.phone, 'new Run 5k tomorrow 7am', SATURDAY);
        const parisReply = await say(paris.phone, 'New Run 5k tomorrow 7am', SATURDAY);

        const [nyTask] = await tasksOf(ny.id);
        assert.equal(nyTask?.description, 'Run 5k');
        assert.equal(nyTask?.due_time.toISOString(), '2026-03-08T11:00:00.000Z');
        assert.equal(nyTask?.status, 'active');
        assert.equal(nyTask?.points, 10);
        assert.match(nyReply, /Task 1: "Run 5k", due 8 Mar 2026, 07:00 \(America\/New_York\)/);
        const [parisTask] = await tasksOf(paris.id);
        assert.equal(parisTask?.due_time.toISOString(), '2026-03-08T06:00:00.000Z');
        assert.match(parisReply, /Task 1: "Run 5k", due 8 Mar 2026, 07:00 \(Europe\/Paris\)/);
        const stages = await t.db.query<{ offset_minutes: number; status: string }>(
          `SELECT offset_minutes, status FROM task_reminders WHERE task_id = $1 ORDER BY offset_minutes`,
          [nyTask?.id],
        );
        assert.deepEqual(
          stages.map((s) => [s.offset_minutes, s.status]),
          [
            [15, 'pending'],
            [60, 'pending'],
          ],
        );

        // Across Paris's change three weeks later, and numbered among the open tasks.
        const later = await say(paris.phone, 'new Read chapter 3 sunday 9:30', BEFORE_PARIS_CHANGE);
        assert.match(later, /Task 2: "Read chapter 3", due 29 Mar 2026, 09:30 \(Europe\/Paris\)/);
        assert.equal(
          (await tasksOf(paris.id))[1]?.due_time.toISOString(),
          '2026-03-29T07:30:00.000Z',
        );
      });

      test('no recognisable time, nothing to do, or a past time: says what to write, creates nothing', async () => {
        const me = await person({ timezone: 'Europe/Paris' });
        assert.match(
          await say(me.phone, 'new Run 5k', SATURDAY),
          /couldn't find when "Run 5k" is due, so I created nothing.*new Run 5k tomorrow 7am/,
        );
        assert.match(
          await say(me.phone, 'new tomorrow 7am', SATURDAY),
          /What is the task\?.*new Call mom in 2 hours/,
        );
        assert.match(
          await say(me.phone, 'new Run today 7am', SATURDAY),
          /due 7 Mar 2026, 07:00 \(Europe\/Paris\), which has already passed, so I created nothing/,
        );
        assert.match(await say(me.phone, 'new', SATURDAY), /What is the task\?/);
        assert.deepEqual(await tasksOf(me.id), []);
      });

      test('a new processed again (a retry, POST /messages/{id}/reprocess) creates one task and answers alike', async () => {
        const me = await person({ timezone: 'Europe/Paris' });
        const claimed = await message(me.phone, 'new Call mom in 2 hours');
        const first = await processAt(t.db, claimed, SATURDAY);
        // Processed again an hour later: "in 2 hours" would be another time, and another task.
        await processAt(
          t.db,
          { ...claimed, attempts: 2, claims: 2 },
          new Date(SATURDAY.getTime() + HOUR),
        );
        const tasks = await tasksOf(me.id);
        assert.equal(tasks.length, 1);
        assert.equal(tasks[0]?.created_by_message_id, claimed.id);
        assert.equal(tasks[0]?.due_time.toISOString(), '2026-03-07T17:00:00.000Z');
        assert.match(first, /Task 1: "Call mom"/);
        const effects = await t.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM command_effects WHERE message_id = $1',
          [claimed.id],
        );
        assert.equal(effects[0]?.n, 1);
      });

      test('tasks lists today’s and upcoming tasks numbered; cancel <n> cancels that one, once', async () => {
        const me = await person({ timezone: 'America/New_York' });
        await say(me.phone, 'new Read chapter 3 friday 18:00', SATURDAY);
        await say(me.phone, 'new Call mom in 2 hours', SATURDAY);
        await say(me.phone, 'new Run 5k tomorrow 7am', SATURDAY);
        const list = await say(me.phone, 'tasks', SATURDAY);
        assert.match(
          list,
          /Today:\n1\. Call mom \(due 7 Mar 2026, 12:00 \(America\/New_York\)\)\nUpcoming:\n2\. Run 5k \(due 8 Mar 2026, 07:00 .*\)\n3\. Read chapter 3 \(due 13 Mar 2026, 18:00 .*\)/,
        );

        const cancel = await message(me.phone, 'cancel 2');
        assert.match(await processAt(t.db, cancel, SATURDAY), /Cancelled task 2: "Run 5k"/);
        // The same message again: number 2 is now "Read chapter 3", which stays.
        await processAt(t.db, { ...cancel, attempts: 2, claims: 2 }, SATURDAY);
        assert.deepEqual(
          (await tasksOf(me.id)).map((task) => [task.description, task.status]),
          [
            ['Read chapter 3', 'active'],
            ['Call mom', 'active'],
            ['Run 5k', 'cancelled'],
          ],
        );
        const stages = await t.db.query<{ status: string }>(
          `SELECT r.status FROM task_reminders r JOIN tasks t ON t.id = r.task_id
         WHERE t.user_id = $1 AND t.description = 'Run 5k'`,
          [me.id],
        );
        assert.ok(
          stages.every((stage) => stage.status === 'cancelled'),
          'no reminder for it',
        );

        assert.match(
          await say(me.phone, 'cancel 7', SATURDAY),
          /2 active tasks, so there is no task 7/,
        );
        // A bare CANCEL is an opt-out word (STOP); a malformed number gets the usage.
        assert.match(await say(me.phone, 'cancel two', SATURDAY), /"cancel <n>.*e\.g\. "cancel 2"/);
      });

      test('undo within 10 minutes takes back the last command; processed again it takes back nothing more; later there is nothing to undo', async () => {
        const me = await person({ timezone: 'Europe/Paris' });
        await say(me.phone, 'new Run 5k tomorrow 7am', SATURDAY);
        await say(me.phone, 'new Call mom in 2 hours', new Date(SATURDAY.getTime() + MINUTE));
        const undo = await message(me.phone, 'undo');
        const at = new Date(SATURDAY.getTime() + 9 * MINUTE);
        assert.match(await processAt(t.db, undo, at), /Undone: "Call mom" is removed/);
        await processAt(t.db, { ...undo, attempts: 2, claims: 2 }, at);
        assert.deepEqual(
          (await tasksOf(me.id)).map((task) => [task.description, task.status]),
          [
            ['Run 5k', 'active'],
            ['Call mom', 'cancelled'],
          ],
          'the re-processed undo left "Run 5k" alone',
        );
        // "Run 5k" was created 11 minutes before: too late to undo.
        assert.match(
          await say(me.phone, 'undo', new Date(SATURDAY.getTime() + 11 * MINUTE)),
          /nothing to undo/,
        );
        assert.equal((await tasksOf(me.id))[0]?.status, 'active');
      });

      test('undo after cancel brings the task back with its reminders', async () => {
        const me = await person({ timezone: 'Europe/Paris' });
        await say(me.phone, 'new Run 5k tomorrow 7am', SATURDAY);
        await say(me.phone, 'cancel 1', SATURDAY);
        assert.match(
          await say(me.phone, 'undo', SATURDAY),
          /Undone: "Run 5k" is back, due 8 Mar 2026, 07:00 \(Europe\/Paris\)/,
        );
        const [task] = await tasksOf(me.id);
        assert.equal(task?.status, 'active');
        const stages = await t.db.query<{ status: string }>(
          'SELECT status FROM task_reminders WHERE task_id = $1',
          [task?.id],
        );
        assert.deepEqual(
          stages.map((s) => s.status),
          ['pending', 'pending'],
        );
        // And undo again takes back the `new` itself.
        assert.match(await say(me.phone, 'undo', SATURDAY), /Undone: "Run 5k" is removed/);
        assert.equal((await tasksOf(me.id))[0]?.status, 'cancelled');
      });

      test('tz sets the zone by name or city; unknown says how to write it; tz alone says where it comes from', async () => {
        const me = await person({ phone: '+33612345679' });
        assert.match(
          await say(me.phone, 'tz', SATURDAY),
          /Europe\/Paris, from your phone number's country/,
        );
        assert.match(
          await say(me.phone, 'tz New York', SATURDAY),
          /now America\/New_York \(it is 10:00 there\)/,
        );
        const [row] = await t.db.query<{ timezone: string }>(
          'SELECT timezone FROM users WHERE id = $1',
          [me.id],
        );
        assert.equal(row?.timezone, 'America/New_York');
        // Due times are read in it from now on.
        assert.match(
          await say(me.phone, 'new Run 5k tomorrow 7am', SATURDAY),
          /07:00 \(America\/New_York\)/,
        );
        assert.match(
          await say(me.phone, 'tz Atlantis', SATURDAY),
          /don't know the time zone "Atlantis".*"tz Europe\/Paris".*"tz Paris"/,
        );
        assert.match(await say(me.phone, 'tz europe/paris', SATURDAY), /now Europe\/Paris/);
        const us = await person();
        assert.match(await say(us.phone, 'tz', SATURDAY), /UTC \(the group's default\)/);
      });

      test('sharing off/on sets users.share_proofs, as the app’s Me page does; sharing alone says which; anything else changes nothing', async () => {
        const me = await person();
        const shares = async () =>
          (
            await t.db.query<{ share_proofs: boolean }>(
              'SELECT share_proofs FROM users WHERE id = $1',
              [me.id],
            )
          )[0]?.share_proofs;
        assert.match(await say(me.phone, 'sharing', SATURDAY), /^Sharing is on\b.*"sharing off"/);
        assert.match(
          await say(me.phone, 'sharing off', SATURDAY),
          /^Sharing is off: your groups are not told of your proofs.*still count.*"sharing on"/,
        );
        assert.equal(await shares(), false);
        assert.match(await say(me.phone, 'Sharing', SATURDAY), /^Sharing is off\b/);
        assert.match(
          await say(me.phone, 'sharing maybe', SATURDAY),
          /didn't understand "sharing maybe", so nothing changed: sharing is off\. Send "sharing on" or "sharing off"/,
        );
        assert.match(await say(me.phone, 'sharing constructor', SATURDAY), /nothing changed/);
        assert.equal(await shares(), false);
        assert.match(await say(me.phone, 'SHARING On!', SATURDAY), /^Sharing is on\b/);
        assert.equal(await shares(), true);
      });
    },
  );

  describe(`an admin's task due in the past [${engine.name}]`, { skip: engine.skip }, () => {
    let app: TestApp;
    before(async () => {
      app = await createTestApp(engine, { clock: () => SATURDAY });
    });
    after(async () => app?.close());

    test('is refused (422), not created to expire at once', async () => {
      const user = await app.app.inject({
        method: 'POST',
        url: '/users',
        headers: app.auth,
        payload: { username: 'Ada', phone_number: '+15550401234' },
      });
      const userId = (user.json() as { id: number }).id;
      const create = (due_time: string) =>
        app.app.inject({
          method: 'POST',
          url: '/tasks',
          headers: app.auth,
          payload: { user_id: userId, description: 'Gym', due_time },
        });
      expectError(
        await create('2026-03-07T14:59:00Z'),
        422,
        'unprocessable',
        /already passed.*future/,
      );
      expectError(await create(SATURDAY.toISOString()), 422, 'unprocessable', /already passed/);
      const [count] = await app.database.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM tasks WHERE user_id = $1',
        [userId],
      );
      assert.equal(count?.n, 0);
      assert.equal((await create('2026-03-07T15:01:00Z')).statusCode, 201);
    });
  });
}
