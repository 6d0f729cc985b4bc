import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import { inboundQueue } from '../src/db/message-queue.js';
import { type ClaimedOutbound, outboundQueue } from '../src/db/outbound.js';
import { openPostgres } from '../src/db/postgres.js';
import { remindersOfTasks } from '../src/db/reminders.js';
import { completeTask, createTask, findTaskById, updateActiveTask } from '../src/db/tasks.js';
import { createUser, recordInbound } from '../src/db/users.js';
import { EXPIRY_GRACE_MS, type ReminderRow } from '../src/domain/reminder.js';
import { createReminderScheduler } from '../src/jobs/reminder-scheduler.js';
import { sendOutboundJob } from '../src/jobs/send-outbound.js';
import { type CopyMedia, processInboundJob } from '../src/jobs/process-inbound.js';
import {
  TEMPLATE_VARIABLE_MAX_LENGTH,
  formatDueTime,
  reminderTemplateVariables,
} from '../src/services/reply-texts.js';
import type { NoticeSettings } from '../src/services/task-notices.js';
import { createTwilioSender } from '../src/twilio/sender.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { type TestDatabase, engines, lockWaiters, postgres } from './helpers/databases.js';
import { baseNoticeSettings } from './helpers/notices.js';
import { quietLog, storeMessages, waitFor } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';
const SMS_NUMBER = '+15550001111';
const CONTENT_SID = `HX${'b2'.repeat(16)}`;
const MINUTE = 60_000;
const T0 = new Date('2026-03-02T09:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * MINUTE);

// Its whatsappNumber is GROUP_NUMBER.
const baseSettings = baseNoticeSettings;

/** An injected clock: tests move it; nothing sleeps. */
function testClock(start: Date) {
  let now = start;
  return {
    now: () => now,
    set(to: Date) {
      now = to;
    },
  };
}

interface OutboundView {
  id: number;
  kind: string;
  task_id: number | null;
  to_number: string;
  from_number: string;
  body: string;
  content_sid: string | null;
  content_variables: Record<string, string> | null;
}

const outboundOfTask = (db: Database, taskId: number) =>
  db.query<OutboundView>(
    `SELECT id, kind, task_id, to_number, from_number, body, content_sid, content_variables
     FROM outbound_messages WHERE task_id = $1 ORDER BY id`,
    [taskId],
  );

async function stagesOf(db: Database, taskId: number): Promise<ReminderRow[]> {
  return (await remindersOfTasks(db, [taskId])).get(taskId) ?? [];
}

/** A task's stages as [offset, status, send_at] in send order. */
const scheduleOf = async (db: Database, taskId: number) =>
  (await stagesOf(db, taskId)).map((r) => [r.offset_minutes, r.status, r.send_at.toISOString()]);

const statusByOffset = (rows: ReminderRow[]) =>
  Object.fromEntries(rows.map((r) => [`${r.kind}:${r.offset_minutes}`, r.status]));

let phoneSeq = 0;
const newPhone = () =>
  `+1555${String(process.pid % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;

for (const engine of engines) {
  describe(`reminders and expiry [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await engine.create();
    });
    after(async () => {
      await t?.destroy();
    });

    /** A user who last wrote `lastWroteAt` (null: never) and a task due at `dueAt`. */
    async function userWithTask(options: {
      dueAt: Date;
      createdAt?: Date;
      lastWroteAt?: Date | null;
      /** The channel of that last message (default WhatsApp). */
      wroteBy?: 'whatsapp' | 'sms';
      timezone?: string | null;
      offsets?: readonly number[];
    }) {
      const phone = newPhone();
      const user = await createUser(t.db, {
        username: `Ada ${phoneSeq}`,
        phone_number: phone,
        timezone: options.timezone ?? null,
      });
      if (options.lastWroteAt !== null) {
        await recordInbound(
          t.db,
          user.id,
          options.lastWroteAt ?? options.createdAt ?? T0,
          options.wroteBy ?? 'whatsapp',
        );
      }
      const task = await createTask(
        t.db,
        { user_id: user.id, description: 'Water the plants', due_time: options.dueAt, points: 10 },
        { offsets: options.offsets ?? [60, 15], now: options.createdAt ?? T0 },
      );
      assert.ok(task);
      return { phone, userId: user.id, taskId: task.id };
    }

    function scheduler(settings: Partial<NoticeSettings> = {}, db: Database = t.db) {
      const clock = testClock(T0);
      const s = createReminderScheduler(
        db,
        { ...baseSettings, ...settings },
        { pollMs: 60_000, log: quietLog, clock: clock.now },
      );
      return { runAt: (time: Date) => (clock.set(time), s.runDue()) };
    }

    test('a task due in 61 minutes: the 60- and 15-minute reminders once each, in order, then expiry once', async () => {
      const { phone, taskId } = await userWithTask({ dueAt: at(61) });
      const s = scheduler();

      assert.deepEqual(await scheduleOf(t.db, taskId), [
        [60, 'pending', at(1).toISOString()],
        [15, 'pending', at(46).toISOString()],
      ]);

      await s.runAt(at(0.99));
      assert.equal((await outboundOfTask(t.db, taskId)).length, 0, 'nothing before 60 minutes');

      await s.runAt(at(1));
      await s.runAt(at(1.5));
      await s.runAt(at(45));
      let sent = await outboundOfTask(t.db, taskId);
      assert.equal(sent.length, 1, 'the 60-minute reminder, once');
      assert.equal(sent[0]?.kind, 'reminder');
      assert.equal(sent[0]?.to_number, `whatsapp:${phone}`);
      assert.equal(sent[0]?.from_number, `whatsapp:${GROUP_NUMBER}`);
      assert.match(
        sent[0]?.body ?? '',
        /"Water the plants" is due in 1 hour, at 2 Mar 2026, 10:01 \(UTC\)\./,
      );

      await s.runAt(at(46));
      await s.runAt(at(50));
      sent = await outboundOfTask(t.db, taskId);
      assert.equal(sent.length, 2, 'then the 15-minute one, once');
      assert.match(sent[1]?.body ?? '', /^🚨 Last call: "Water the plants" is due in 15 minutes/);

      await s.runAt(at(60.99));
      await s.runAt(at(61));
      assert.equal((await findTaskById(t.db, taskId))?.status, 'active', 'not expired early');
      // A few seconds' grace for a webhook stored just before the due time to commit.
      const expiresAt = new Date(at(61).getTime() + EXPIRY_GRACE_MS);
      assert.equal((await s.runAt(new Date(expiresAt.getTime() - 1))).expired, 0);
      const expiry = await s.runAt(expiresAt);
      assert.equal(expiry.expired, 1);
      await s.runAt(at(62));
      await s.runAt(at(600));
      const task = await findTaskById(t.db, taskId);
      assert.equal(task?.status, 'expired');
      assert.equal(task?.expired_at?.toISOString(), expiresAt.toISOString());
      sent = await outboundOfTask(t.db, taskId);
      assert.deepEqual(
        sent.map((m) => m.kind),
        ['reminder', 'reminder', 'expiry'],
        'told of the expiry once',
      );
      assert.match(
        sent[2]?.body ?? '',
        /expired: it was due 2 Mar 2026, 10:01 \(UTC\)\. No points/,
      );
      assert.deepEqual(statusByOffset(await stagesOf(t.db, taskId)), {
        'reminder:60': 'sent',
        'reminder:15': 'sent',
        'expiry:0': 'sent',
      });
    });

    test("due times are said in the user's time zone, else in TZ", async () => {
      const paris = await userWithTask({ dueAt: at(61), timezone: 'Europe/Paris' });
      const other = await userWithTask({ dueAt: at(61) });
      await scheduler({ defaultTimezone: 'America/New_York' }).runAt(at(1));
      assert.match(
        (await outboundOfTask(t.db, paris.taskId))[0]?.body ?? '',
        /2 Mar 2026, 11:01 \(Europe\/Paris\)/,
      );
      assert.match(
        (await outboundOfTask(t.db, other.taskId))[0]?.body ?? '',
        /2 Mar 2026, 05:01 \(America\/New_York\)/,
      );
    });

    test('editing due_time reschedules the stages not sent yet; a sent stage stays sent', async () => {
      const { taskId } = await userWithTask({ dueAt: at(61) });
      const s = scheduler();
      await s.runAt(at(1));
      assert.equal((await outboundOfTask(t.db, taskId)).length, 1);

      // Moved an hour later: the 15-minute stage follows; the 60-minute one is not re-sent.
      const moved = await updateActiveTask(
        t.db,
        taskId,
        { due_time: at(121) },
        { offsets: [60, 15], now: at(2) },
      );
      assert.equal(moved.outcome, 'updated');
      assert.deepEqual(await scheduleOf(t.db, taskId), [
        [60, 'sent', at(1).toISOString()],
        [15, 'pending', at(106).toISOString()],
      ]);
      await s.runAt(at(46));
      assert.equal((await outboundOfTask(t.db, taskId)).length, 1, 'not at the old time');
      await s.runAt(at(106));
      assert.equal((await outboundOfTask(t.db, taskId)).length, 2, 'at the new time');
      await s.runAt(at(61));
      assert.equal((await findTaskById(t.db, taskId))?.status, 'active', 'not the old expiry');
    });

    test('moved closer than a stage: that stage is skipped with the reason, the rest still fires', async () => {
      const { taskId } = await userWithTask({ dueAt: at(180) });
      await updateActiveTask(t.db, taskId, { due_time: at(30) }, { offsets: [60, 15], now: at(0) });
      const [sixty, fifteen] = await stagesOf(t.db, taskId);
      assert.equal(sixty?.status, 'skipped');
      assert.match(sixty?.reason ?? '', /less than 60 minutes away/);
      assert.equal(fifteen?.status, 'pending');
      assert.equal(fifteen?.send_at.toISOString(), at(15).toISOString());
      // A task created 30 minutes before it is due gets the same.
      const late = await userWithTask({ dueAt: at(30) });
      assert.deepEqual(statusByOffset(await stagesOf(t.db, late.taskId)), {
        'reminder:60': 'skipped',
        'reminder:15': 'pending',
      });
    });

    test('completed and cancelled tasks get no reminder and never expire', async () => {
      const done = await userWithTask({ dueAt: at(61) });
      const cancelled = await userWithTask({ dueAt: at(61) });
      assert.ok(await completeTask(t.db, done.taskId, at(0.5)));
      await updateActiveTask(
        t.db,
        cancelled.taskId,
        { status: 'cancelled' },
        { offsets: [60, 15], now: at(0.5) },
      );
      const s = scheduler();
      for (const minute of [1, 46, 61, 120]) await s.runAt(at(minute));
      for (const { taskId } of [done, cancelled]) {
        assert.equal((await outboundOfTask(t.db, taskId)).length, 0);
        const stages = await stagesOf(t.db, taskId);
        assert.ok(stages.every((r) => r.status === 'cancelled'));
        assert.ok(stages.every((r) => r.kind === 'reminder'));
      }
      assert.equal((await findTaskById(t.db, done.taskId))?.status, 'completed');
      assert.equal((await findTaskById(t.db, cancelled.taskId))?.status, 'cancelled');
      assert.match((await stagesOf(t.db, done.taskId))[0]?.reason ?? '', /The task was completed/);
    });

    test('a stage dropped from REMINDER_OFFSETS is cancelled at start, and back when it returns', async () => {
      const { taskId } = await userWithTask({ dueAt: at(120) });
      const startWith = async (offsets: number[]) => {
        const s = createReminderScheduler(
          t.db,
          { ...baseSettings, offsets },
          { pollMs: 60_000, log: quietLog, clock: () => T0 },
        );
        await s.start();
        await s.stop();
      };
      await startWith([15]);
      let stages = await stagesOf(t.db, taskId);
      assert.deepEqual(statusByOffset(stages), {
        'reminder:60': 'cancelled',
        'reminder:15': 'pending',
      });
      assert.match(stages[0]?.reason ?? '', /REMINDER_OFFSETS no longer includes/);

      await startWith([60, 15]);
      stages = await stagesOf(t.db, taskId);
      assert.deepEqual(
        stages.map((r) => [r.offset_minutes, r.status, r.reason, r.send_at.toISOString()]),
        [
          [60, 'pending', null, at(60).toISOString()],
          [15, 'pending', null, at(105).toISOString()],
        ],
      );
    });

    test('after downtime only the most urgent due stage is sent, the earlier one is skipped', async () => {
      const { taskId } = await userWithTask({ dueAt: at(61) });
      await scheduler().runAt(at(50));
      const sent = await outboundOfTask(t.db, taskId);
      assert.equal(sent.length, 1);
      assert.match(sent[0]?.body ?? '', /due in 11 minutes/);
      const [sixty, fifteen] = await stagesOf(t.db, taskId);
      assert.equal(sixty?.status, 'skipped');
      assert.match(sixty?.reason ?? '', /Superseded by the 15-minute reminder/);
      assert.equal(fifteen?.status, 'sent');
    });

    test('a task still waiting on a message sent before its due time does not expire yet', async () => {
      const { phone, taskId } = await userWithTask({ dueAt: at(61) });
      // A photo arrived a minute before the due time and is still being processed.
      await t.db.query(
        `INSERT INTO messages (message_sid, from_number, to_number, sender, created_at)
         VALUES ($1, $2, $3, $4, $5::timestamptz)`,
        [`MM${randomBytes(16).toString('hex')}`, `whatsapp:${phone}`, GROUP_NUMBER, phone, at(60)],
      );
      const s = scheduler();
      await s.runAt(at(62));
      assert.equal((await findTaskById(t.db, taskId))?.status, 'active');
      await t.db.query(
        `UPDATE messages SET processing_status = 'processed', processed = true WHERE sender = $1`,
        [phone],
      );
      await s.runAt(at(63));
      assert.equal((await findTaskById(t.db, taskId))?.status, 'expired');
    });

    describe("WhatsApp's 24-hour window", () => {
      let twilio: FakeTwilio;
      before(async () => {
        twilio = await startFakeTwilio();
      });
      after(async () => {
        await twilio?.close();
      });

      /**
       * Sends every pending outbound message through the fake Twilio, as the worker does
       * at `now` (by default a minute after the first reminder was decided).
       */
      async function sendPending(now = at(2)) {
        const send = sendOutboundJob({
          db: t.db,
          clock: () => now,
          send: createTwilioSender({
            accountSid: twilio.accountSid,
            authToken: twilio.authToken,
            apiBaseUrl: twilio.apiBaseUrl,
            statusCallbackUrl: null,
          }),
        });
        const jobs: ClaimedOutbound[] = await outboundQueue.claim(t.db, 100, 60_000);
        for (const job of jobs) await send(job);
      }
      const requestsTo = (to: string) => twilio.messageRequests.filter((r) => r.params.To === to);

      test('inside the window: free-form WhatsApp text', async () => {
        const { phone, taskId } = await userWithTask({ dueAt: at(61), lastWroteAt: at(-23 * 60) });
        await scheduler({
          contentSid: CONTENT_SID,
          smsFallback: true,
          smsNumber: SMS_NUMBER,
        }).runAt(at(1));
        await sendPending();
        const [request] = requestsTo(`whatsapp:${phone}`);
        assert.ok(request);
        assert.equal(request.params.From, `whatsapp:${GROUP_NUMBER}`);
        assert.match(request.params.Body ?? '', /Water the plants/);
        assert.equal(request.params.ContentSid, undefined);
        assert.equal((await stagesOf(t.db, taskId))[0]?.channel, 'whatsapp');
      });

      test('outside it with REMINDER_CONTENT_SID: the template, with ContentSid and ContentVariables', async () => {
        const { phone, taskId } = await userWithTask({
          dueAt: at(61),
          lastWroteAt: at(-25 * 60),
          timezone: 'Europe/Paris',
        });
        await scheduler({
          contentSid: CONTENT_SID,
          smsFallback: true,
          smsNumber: SMS_NUMBER,
        }).runAt(at(1));
        await sendPending();
        const [request] = requestsTo(`whatsapp:${phone}`);
        assert.ok(request);
        assert.deepEqual(
          Object.keys(request.params).sort(),
          ['ContentSid', 'ContentVariables', 'From', 'To'],
          "exactly Twilio's parameters for a template (no Body)",
        );
        assert.equal(request.params.ContentSid, CONTENT_SID);
        assert.deepEqual(JSON.parse(request.params.ContentVariables ?? ''), {
          '1': 'Water the plants',
          '2': '2 Mar 2026, 11:01 (Europe/Paris)',
        });
        const [stage] = await stagesOf(t.db, taskId);
        assert.equal(stage?.channel, 'template');
        assert.equal((await outboundOfTask(t.db, taskId))[0]?.content_sid, CONTENT_SID);
      });

      test('an SMS does not open the WhatsApp window: the template, though the user wrote an hour ago', async () => {
        const { phone, taskId } = await userWithTask({
          dueAt: at(61),
          lastWroteAt: at(-60),
          wroteBy: 'sms',
        });
        await scheduler({ contentSid: CONTENT_SID }).runAt(at(1));
        await sendPending();
        const [request] = requestsTo(`whatsapp:${phone}`);
        assert.equal(request?.params.ContentSid, CONTENT_SID);
        assert.equal(request?.params.Body, undefined);
        assert.equal((await stagesOf(t.db, taskId))[0]?.channel, 'template');
      });

      test('outside it without a template, with REMINDER_SMS_FALLBACK: SMS from TWILIO_PHONE_NUMBER', async () => {
        const { phone, taskId } = await userWithTask({ dueAt: at(61), lastWroteAt: null });
        await scheduler({ smsFallback: true, smsNumber: SMS_NUMBER }).runAt(at(1));
        await sendPending();
        const [request] = requestsTo(phone);
        assert.ok(request, 'sent to the bare number, by SMS');
        assert.equal(request.params.From, SMS_NUMBER);
        assert.match(request.params.Body ?? '', /Water the plants/);
        assert.equal(requestsTo(`whatsapp:${phone}`).length, 0);
        assert.equal((await stagesOf(t.db, taskId))[0]?.channel, 'sms');
      });

      test('a reminder still queued when its task is completed or cancelled is withdrawn, not sent', async () => {
        const done = await userWithTask({ dueAt: at(61), lastWroteAt: at(-60) });
        const cancelled = await userWithTask({ dueAt: at(61), lastWroteAt: at(-60) });
        await scheduler().runAt(at(1));
        // Recorded, but the outbound worker has not got to them yet (a backlog, a retry).
        assert.equal((await outboundOfTask(t.db, done.taskId)).length, 1);
        assert.ok(await completeTask(t.db, done.taskId, at(1.5)));
        await updateActiveTask(
          t.db,
          cancelled.taskId,
          { status: 'cancelled' },
          { offsets: [60, 15], now: at(1.5) },
        );
        await sendPending(at(2));

        for (const [who, word] of [
          [done, 'completed'],
          [cancelled, 'cancelled'],
        ] as const) {
          assert.equal(requestsTo(`whatsapp:${who.phone}`).length, 0, `${word}: nothing sent`);
          const [message] = await t.db.query<{ status: string; error_message: string }>(
            'SELECT status, error_message FROM outbound_messages WHERE task_id = $1',
            [who.taskId],
          );
          assert.equal(message?.status, 'canceled');
          assert.match(message?.error_message ?? '', new RegExp(`task was ${word} before`));
          const stage = (await stagesOf(t.db, who.taskId)).find((r) => r.offset_minutes === 60);
          assert.equal(stage?.status, 'cancelled');
          assert.equal(stage?.reason, message?.error_message);
        }
      });

      test('a reminder still queued when the due time is edited is withdrawn and scheduled for the new time', async () => {
        const later = await userWithTask({ dueAt: at(61), lastWroteAt: at(-60) });
        const sooner = await userWithTask({ dueAt: at(61), lastWroteAt: at(-60) });
        const s = scheduler();
        await s.runAt(at(1)); // both 60-minute reminders recorded, not sent yet
        const schedule = { offsets: [60, 15], now: at(1.5) };
        await updateActiveTask(t.db, later.taskId, { due_time: at(121) }, schedule);
        await updateActiveTask(t.db, sooner.taskId, { due_time: at(30) }, schedule);
        await sendPending(at(2));
        assert.equal(requestsTo(`whatsapp:${later.phone}`).length, 0, 'not with the old time');
        assert.equal(requestsTo(`whatsapp:${sooner.phone}`).length, 0);
        const [withdrawn] = await outboundOfTask(t.db, later.taskId);
        assert.ok(withdrawn);
        const [row] = await t.db.query<{ status: string; error_message: string }>(
          'SELECT status, error_message FROM outbound_messages WHERE id = $1',
          [withdrawn.id],
        );
        assert.equal(row?.status, 'canceled');
        assert.match(
          row?.error_message ?? '',
          /due time was changed after the reminder was written/,
        );

        const stage60 = async (taskId: number) =>
          (await stagesOf(t.db, taskId)).find((r) => r.offset_minutes === 60);
        assert.equal((await stage60(later.taskId))?.status, 'pending');
        assert.equal((await stage60(later.taskId))?.send_at.toISOString(), at(61).toISOString());
        assert.equal((await stage60(sooner.taskId))?.status, 'skipped');
        assert.match((await stage60(sooner.taskId))?.reason ?? '', /moved to less than 60 minutes/);

        // At the new time, the reminder goes out once, with the new due time.
        await s.runAt(at(61));
        await sendPending(at(61.5));
        const sent = requestsTo(`whatsapp:${later.phone}`);
        assert.equal(sent.length, 1);
        assert.match(sent[0]?.params.Body ?? '', /due in 1 hour, at 2 Mar 2026, 11:01/);
        assert.equal((await stage60(later.taskId))?.status, 'sent');
      });

      test('a reminder that waited past the due time is withdrawn; one still in time is sent', async () => {
        const late = await userWithTask({ dueAt: at(61), lastWroteAt: at(-60) });
        await scheduler().runAt(at(46)); // the 15-minute stage (the 60-minute one is skipped)
        await sendPending(at(61));
        assert.equal(requestsTo(`whatsapp:${late.phone}`).length, 0);
        const stage = (await stagesOf(t.db, late.taskId)).find((r) => r.offset_minutes === 15);
        assert.equal(stage?.status, 'cancelled');
        assert.match(stage?.reason ?? '', /due time passed before the reminder went out/);

        const onTime = await userWithTask({ dueAt: at(61), lastWroteAt: at(-60) });
        await scheduler().runAt(at(46));
        await sendPending(at(60.9));
        assert.equal(requestsTo(`whatsapp:${onTime.phone}`).length, 1);
      });

      test('outside it with neither: skipped, with the reason, and nothing sent', async () => {
        const { phone, taskId } = await userWithTask({ dueAt: at(61), lastWroteAt: at(-48 * 60) });
        const s = scheduler();
        await s.runAt(at(1));
        await s.runAt(at(62));
        await sendPending();
        assert.equal(requestsTo(`whatsapp:${phone}`).length + requestsTo(phone).length, 0);
        const [stage] = await stagesOf(t.db, taskId);
        assert.equal(stage?.status, 'skipped');
        assert.match(
          stage?.reason ?? '',
          /Outside WhatsApp's 24-hour window.*REMINDER_CONTENT_SID/,
        );
        const expiry = (await stagesOf(t.db, taskId)).find((r) => r.kind === 'expiry');
        assert.equal(expiry?.status, 'skipped', 'the expiry notice too (a template would mislead)');
        assert.equal((await outboundOfTask(t.db, taskId)).length, 0);
      });
    });
  });
}

describe('two schedulers on one Postgres', { skip: postgres.skip }, () => {
  test('a scheduler starting does not wait for stages another transaction holds', async () => {
    const t = await postgres.create();
    const second = await openPostgres({ connectionString: t.url ?? '', poolSize: 2 });
    try {
      const user = await createUser(t.db, { username: 'Lock', phone_number: newPhone() });
      const task = await createTask(
        t.db,
        { user_id: user.id, description: 'Held', due_time: at(120), points: 1 },
        { offsets: [60, 15], now: T0 },
      );
      assert.ok(task);
      // Another instance is working on one of the task's stages, its row locked...
      const outcome = await t.db.transaction(async (tx) => {
        await tx.query('SELECT id FROM task_reminders WHERE task_id = $1 FOR UPDATE', [task.id]);
        // ...while this one starts: its backfill must not queue behind that lock.
        const start = createReminderScheduler(second, baseSettings, {
          pollMs: 60_000,
          log: quietLog,
          clock: () => T0,
        });
        let settled = false;
        const started = start
          .start()
          .then(() => 'started')
          .finally(() => (settled = true));
        // Queued behind the lock, it would show as a session of this database waiting for one.
        const blocked = waitFor(async () => settled || (await lockWaiters(t.db)) > 0).then(
          () => 'blocked',
        );
        const result = await Promise.race([started, blocked]);
        await start.stop();
        await blocked;
        return result;
      });
      assert.equal(outcome, 'started');
    } finally {
      await second.close();
      await t.destroy();
    }
  });

  test('each stage and each expiry happens once, whichever instance gets it', async () => {
    const t = await postgres.create();
    const second = await openPostgres({ connectionString: t.url ?? '', poolSize: 4 });
    try {
      const tasks: number[] = [];
      for (let i = 0; i < 12; i += 1) {
        const user = await createUser(t.db, { username: `p${i}`, phone_number: newPhone() });
        await recordInbound(t.db, user.id, T0, 'whatsapp');
        const task = await createTask(
          t.db,
          { user_id: user.id, description: `Task ${i}`, due_time: at(61 + i), points: 1 },
          { offsets: [60, 15], now: T0 },
        );
        assert.ok(task);
        tasks.push(task.id);
      }
      const make = (db: Database) => {
        let now = T0;
        const s = createReminderScheduler(db, baseSettings, {
          pollMs: 60_000,
          log: quietLog,
          clock: () => now,
          batchSize: 3,
        });
        return (time: Date) => ((now = time), s.runDue());
      };
      const a = make(t.db);
      const b = make(second);
      for (const minute of [1, 5, 10, 46, 50, 58, 61, 66, 75]) {
        // Both instances at once, several runs each, racing for the same rows.
        await Promise.all([a(at(minute)), b(at(minute)), a(at(minute)), b(at(minute))]);
      }
      const rows = await t.db.query<{ task_id: number; kind: string; n: number }>(
        `SELECT task_id, kind, count(*)::int AS n FROM outbound_messages
         WHERE task_id = ANY($1::bigint[]) GROUP BY task_id, kind ORDER BY task_id, kind`,
        [tasks],
      );
      assert.deepEqual(
        rows.map((r) => [Number(r.task_id), r.kind, r.n]),
        tasks.flatMap((id) => [
          [id, 'expiry', 1],
          [id, 'reminder', 2],
        ]),
      );
    } finally {
      await second.close();
      await t.destroy();
    }
  });
});

/** Processes every pending inbound message through the accountability loop, as the worker does. */
async function processPending(db: Database) {
  const copyMedia: CopyMedia = async (_item, target) => ({
    key: `messages/${target.messageSid}/${target.index}.jpg`,
    size: 1024,
    content_type: 'image/jpeg',
    url: `http://storage.test/notes/messages/${target.messageSid}/${target.index}.jpg`,
  });
  const job = processInboundJob({ db, copyMedia, accountability: { autoRegister: false } });
  for (const message of await inboundQueue.claim(db, 100, 60_000)) await job(message);
}

for (const engine of engines) {
  describe(`a photo and the due time [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await engine.create();
    });
    after(async () => {
      await t?.destroy();
    });

    async function setUp(dueInMs: number) {
      const phone = newPhone();
      const user = await createUser(t.db, { username: 'Ada', phone_number: phone });
      const now = new Date();
      const task = await createTask(
        t.db,
        {
          user_id: user.id,
          description: 'Stretch',
          due_time: new Date(now.getTime() + dueInMs),
          points: 10,
        },
        { offsets: [60, 15], now },
      );
      assert.ok(task);
      const sendPhoto = () =>
        storeMessages(t.db, [
          {
            from: phone,
            media: [
              {
                url: `https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME${phone}`,
                contentType: 'image/jpeg',
              },
            ],
          },
        ]);
      const outcome = async () => ({
        task: await findTaskById(t.db, task.id),
        points: (
          await t.db.query<{ points: number }>('SELECT points FROM users WHERE id = $1', [user.id])
        )[0]?.points,
        reply: (
          await t.db.query<{ body: string }>(
            `SELECT body FROM outbound_messages WHERE user_id = $1 AND kind = 'reply' ORDER BY id DESC LIMIT 1`,
            [user.id],
          )
        )[0]?.body,
        posts: (await t.db.query('SELECT 1 FROM feed WHERE task_id = $1', [task.id])).length,
      });
      return { taskId: task.id, sendPhoto, outcome };
    }

    test('a photo sent after the due time completes nothing, even before the scheduler expired the task', async () => {
      const { sendPhoto, outcome } = await setUp(-60_000);
      await sendPhoto();
      await processPending(t.db);
      const result = await outcome();
      assert.equal(result.task?.status, 'expired');
      assert.equal(result.points, 0);
      assert.equal(result.posts, 0);
      assert.match(
        result.reply ?? '',
        /"Stretch" expired: it was due .* does not count for points/,
      );
    });

    test('a photo for a task the scheduler already expired: the reply says it expired', async () => {
      const { sendPhoto, outcome } = await setUp(-5 * 60_000);
      const s = createReminderScheduler(t.db, baseSettings, { pollMs: 60_000, log: quietLog });
      assert.ok((await s.runDue()).expired >= 1);
      await sendPhoto();
      await processPending(t.db);
      const result = await outcome();
      assert.equal(result.task?.status, 'expired');
      assert.equal(result.points, 0);
      assert.match(result.reply ?? '', /expired/);
    });

    test('a later photo processed first leaves the task to an earlier photo still waiting', async () => {
      const { sendPhoto, outcome } = await setUp(-60_000); // due a minute ago
      const [early] = await sendPhoto();
      const [late] = await sendPhoto();
      // The early one was sent two minutes ago, before the due time, and waits for a retry
      // (say its download failed); the late one, sent now, is processed first.
      await t.db.query(
        `UPDATE messages SET created_at = now() - interval '2 minutes',
                             run_at = now() + interval '1 hour' WHERE id = $1`,
        [early],
      );
      await processPending(t.db);
      let result = await outcome();
      assert.equal(result.task?.status, 'active', 'not expired while the early photo waits');
      assert.equal(result.posts, 0, 'the late photo completes nothing');
      assert.match(result.reply ?? '', /came after "Stretch" was due at .* does not count for it/);
      assert.ok(late);

      await t.db.query('UPDATE messages SET run_at = now() WHERE id = $1', [early]);
      await processPending(t.db);
      result = await outcome();
      assert.equal(result.task?.status, 'completed');
      assert.equal(result.points, 10);
      assert.equal(result.posts, 1);
    });

    test('a photo sent before the due time but processed after it still counts', async () => {
      const { sendPhoto, outcome } = await setUp(1_500);
      await sendPhoto();
      // The scheduler runs after the due time, while the photo waits to be processed.
      const s = createReminderScheduler(t.db, baseSettings, {
        pollMs: 60_000,
        log: quietLog,
        clock: () => new Date(Date.now() + 10_000),
      });
      await s.runDue();
      assert.equal((await outcome()).task?.status, 'active', 'the pending photo holds expiry back');
      await processPending(t.db);
      const result = await outcome();
      assert.equal(result.task?.status, 'completed');
      assert.equal(result.points, 10);
      assert.equal(result.posts, 1);
    });
  });
}

describe('reminder template variables', () => {
  test('a description with newlines, tabs and runs of spaces becomes one line WhatsApp accepts', () => {
    const variables = reminderTemplateVariables(
      { description: 'Clean the kitchen:\n\t- dishes\n    - floor  ' },
      '2 Mar 2026, 10:01 (UTC)',
    );
    assert.deepEqual(variables, {
      '1': 'Clean the kitchen: - dishes - floor',
      '2': '2 Mar 2026, 10:01 (UTC)',
    });
  });

  test('a long description is cut to the limit, ending in an ellipsis', () => {
    const variables = reminderTemplateVariables({ description: 'word '.repeat(400) }, 'soon');
    const first = variables['1'] ?? '';
    assert.equal(first.length, TEMPLATE_VARIABLE_MAX_LENGTH);
    assert.ok(first.endsWith('…'));
    assert.ok(!/\s…$/.test(first), 'no space before the ellipsis');
  });

  test('the cut never splits an emoji', () => {
    const variables = reminderTemplateVariables(
      { description: `${'a'.repeat(198)}😀😀😀` },
      'soon',
    );
    const first = variables['1'] ?? '';
    assert.equal(first, `${'a'.repeat(198)}😀…`);
    assert.equal(Array.from(first).length, TEMPLATE_VARIABLE_MAX_LENGTH);
  });
});

describe('due times in messages', () => {
  test('a time that happens twice when clocks go back says which one, by its UTC offset', () => {
    assert.equal(
      formatDueTime(new Date('2026-11-01T05:30:00Z'), 'America/New_York'),
      '1 Nov 2026, 01:30 (America/New_York, GMT-4)',
    );
    assert.equal(
      formatDueTime(new Date('2026-11-01T06:30:00Z'), 'America/New_York'),
      '1 Nov 2026, 01:30 (America/New_York, GMT-5)',
    );
    // Any other time, and any time in UTC, is said as usual.
    assert.equal(
      formatDueTime(new Date('2026-11-01T08:30:00Z'), 'America/New_York'),
      '1 Nov 2026, 03:30 (America/New_York)',
    );
    assert.equal(formatDueTime(new Date('2026-11-01T05:30:00Z'), null), '1 Nov 2026, 05:30 (UTC)');
  });
});
