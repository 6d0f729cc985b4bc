import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import { remindersOfTasks } from '../src/db/reminders.js';
import { createTask } from '../src/db/tasks.js';
import { recordInbound } from '../src/db/users.js';
import type { ReminderRow } from '../src/domain/reminder.js';
import { createReminderScheduler } from '../src/jobs/reminder-scheduler.js';
import type { NoticeSettings } from '../src/services/task-notices.js';
import { engines } from './helpers/databases.js';
import { baseNoticeSettings } from './helpers/notices.js';
import { sendTimeFixture } from './helpers/send-time.js';
import { quietLog } from './helpers/worker.js';

const SMS_NUMBER = '+15550001111';
const CONTENT_SID = `HX${'c3'.repeat(16)}`;
const MINUTE = 60_000;
const T0 = new Date('2026-03-02T09:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * MINUTE);

const baseSettings = baseNoticeSettings;

for (const engine of engines) {
  describe(
    `a queued notice whose 24-hour window closed before it was sent [${engine.name}]`,
    { skip: engine.skip },
    () => {
      const fixture = sendTimeFixture(engine);
      const { requestsTo } = fixture;

      /**
       * A user who last wrote on WhatsApp 23 h 30 min before T0, and a task due at T0 + 61
       * min: its 60-minute reminder, decided at T0 + 1 min, falls inside the window (free-form
       * text); the window closes at T0 + 30 min.
       */
      async function userWithTask() {
        const user = await fixture.member('Ada', at(-23.5 * 60));
        const task = await createTask(
          fixture.db,
          { user_id: user.id, description: 'Water the plants', due_time: at(61), points: 10 },
          { offsets: [60, 15], now: T0 },
        );
        assert.ok(task);
        return { user, taskId: task.id };
      }

      const decideAt = (time: Date, settings: NoticeSettings, db: Database = fixture.db) =>
        createReminderScheduler(db, settings, {
          pollMs: 60_000,
          log: quietLog,
          clock: () => time,
        }).runDue();

      /** The outbound worker's job at `now`, with `settings` as REMINDER_* are then. */
      const sendPending = (now: Date, settings: NoticeSettings) =>
        fixture.sendQueued(now, { notices: settings });
      const stage = async (taskId: number, kind = 'reminder'): Promise<ReminderRow | undefined> =>
        ((await remindersOfTasks(fixture.db, [taskId])).get(taskId) ?? []).find(
          (r) => r.kind === kind && r.status !== 'pending',
        );
      const outboundOf = async (taskId: number) =>
        (
          await fixture.db.query<{
            status: string;
            error_message: string | null;
            content_sid: string | null;
          }>(
            'SELECT status, error_message, content_sid FROM outbound_messages WHERE task_id = $1 ORDER BY id',
            [taskId],
          )
        )[0];

      test('with REMINDER_CONTENT_SID: sent as the template instead of free-form text', async () => {
        const { user, taskId } = await userWithTask();
        const settings = { ...baseSettings, contentSid: CONTENT_SID };
        await decideAt(at(1), settings);
        assert.equal((await stage(taskId))?.channel, 'whatsapp', 'inside the window when decided');
        await sendPending(at(40), settings);
        const [request] = requestsTo(user);
        assert.ok(request);
        assert.equal(request.params.ContentSid, CONTENT_SID);
        assert.equal(request.params.Body, undefined, 'no free-form text (63016)');
        assert.deepEqual(JSON.parse(request.params.ContentVariables ?? ''), {
          '1': 'Water the plants',
          '2': '2 Mar 2026, 10:01 (UTC)',
        });
        assert.equal((await stage(taskId))?.channel, 'template');
        assert.equal((await outboundOf(taskId))?.content_sid, CONTENT_SID);
      });

      test('without a template, with REMINDER_SMS_FALLBACK: sent by SMS', async () => {
        const { user, taskId } = await userWithTask();
        const settings = { ...baseSettings, smsFallback: true, smsNumber: SMS_NUMBER };
        await decideAt(at(1), settings);
        await sendPending(at(40), settings);
        assert.equal(requestsTo(user).length, 0);
        const [request] = requestsTo(user, 'sms');
        assert.equal(request?.params.From, SMS_NUMBER);
        assert.match(request?.params.Body ?? '', /Water the plants/);
        assert.equal((await stage(taskId))?.channel, 'sms');
      });

      test('with neither: not sent; the message is canceled and the stage skipped, with the reason', async () => {
        const { user, taskId } = await userWithTask();
        await decideAt(at(1), baseSettings);
        await sendPending(at(40), baseSettings);
        assert.equal(requestsTo(user).length + requestsTo(user, 'sms').length, 0);
        const message = await outboundOf(taskId);
        assert.equal(message?.status, 'canceled');
        assert.match(message?.error_message ?? '', /24-hour window closed.*REMINDER_CONTENT_SID/);
        const skipped = await stage(taskId);
        assert.equal(skipped?.status, 'skipped');
        assert.equal(skipped?.reason, message?.error_message);
      });

      test('a user who wrote again meanwhile gets the free-form text as recorded', async () => {
        const { user, taskId } = await userWithTask();
        const settings = { ...baseSettings, contentSid: CONTENT_SID };
        await decideAt(at(1), settings);
        await recordInbound(fixture.db, user.id, at(20), 'whatsapp');
        await sendPending(at(40), settings);
        const [request] = requestsTo(user);
        assert.match(request?.params.Body ?? '', /Water the plants/);
        assert.equal(request?.params.ContentSid, undefined);
        assert.equal((await stage(taskId))?.channel, 'whatsapp');
      });

      test('an expiry notice is never turned into the reminder template: with only a template it is skipped', async () => {
        // Wrote 22 h 54 min before T0: the expiry, decided at T0 + 62 min, is inside the window.
        const user = await fixture.member('Bo', at(-22.9 * 60));
        const task = await createTask(
          fixture.db,
          { user_id: user.id, description: 'Water the plants', due_time: at(61), points: 10 },
          { offsets: [], now: T0 },
        );
        assert.ok(task);
        const settings = { ...baseSettings, contentSid: CONTENT_SID };
        await decideAt(at(62), settings);
        assert.equal((await stage(task.id, 'expiry'))?.channel, 'whatsapp');
        await sendPending(at(70), settings);
        assert.equal(requestsTo(user).length, 0);
        const skipped = await stage(task.id, 'expiry');
        assert.equal(skipped?.status, 'skipped');
        assert.match(skipped?.reason ?? '', /REMINDER_SMS_FALLBACK/);
      });
    },
  );
}
