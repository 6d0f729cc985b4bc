import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import { inboundQueue } from '../src/db/message-queue.js';
import { outboundQueue } from '../src/db/outbound.js';
import { remindersOfTasks } from '../src/db/reminders.js';
import { createTask, findTaskById } from '../src/db/tasks.js';
import { createUser, findUserById, recordInbound } from '../src/db/users.js';
import { createReminderScheduler } from '../src/jobs/reminder-scheduler.js';
import { sendOutboundJob } from '../src/jobs/send-outbound.js';
import { type CopyMedia, processInboundJob } from '../src/jobs/process-inbound.js';
import { helpText } from '../src/services/commands/index.js';
import { consentWord } from '../src/services/consent.js';
import type { NoticeSettings } from '../src/services/task-notices.js';
import * as taskUseCases from '../src/services/tasks.js';
import { createTwilioSender } from '../src/twilio/sender.js';
import { createTestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import { baseNoticeSettings } from './helpers/notices.js';
import { sendTimeFixture } from './helpers/send-time.js';
import { quietLog, storeMessages } from './helpers/worker.js';

const CONTENT_SID = `HX${'c3'.repeat(16)}`;
const BUTTONS_SID = `HX${'d4'.repeat(16)}`;
const NOTICE_SID = `HX${'e5'.repeat(16)}`;
const MINUTE = 60_000;
// Inbound messages are stamped with the real time; the scheduler's clock starts there.
const T0 = new Date(Math.floor(Date.now() / MINUTE) * MINUTE);
const at = (minutes: number) => new Date(T0.getTime() + minutes * MINUTE);

const baseSettings = baseNoticeSettings;

let phoneSeq = 0;
const newPhone = () =>
  `+1556${String(process.pid % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;

test('the consent words are the whole message, in any case; `cancel 2` is no opt-out', () => {
  for (const word of [
    'STOP',
    'stopall',
    'Unsubscribe',
    'CANCEL',
    'end',
    'QUIT',
    'optout',
    'revoke',
  ]) {
    assert.equal(consentWord(word), 'out', word);
    assert.equal(consentWord(` ${word}. `), 'out', word);
  }
  for (const word of ['START', 'unstop', 'Yes']) assert.equal(consentWord(word), 'in', word);
  for (const text of ['cancel 2', 'stop reminding me at night', 'please stop', 'starting now', ''])
    assert.equal(consentWord(text), null, text);
});

test('help says what the service is and how to stop', () => {
  assert.match(helpText(), /accountability/);
  assert.match(helpText(), /STOP to stop.*START/);
});

for (const engine of engines) {
  describe(
    `consent, assignment notices and buttons [${engine.name}]`,
    { skip: engine.skip },
    () => {
      const fixture = sendTimeFixture(engine);

      async function person(options: { lastWroteAt?: Date | null } = {}) {
        const phone = newPhone();
        const user = await createUser(fixture.db, {
          username: `Ada ${phoneSeq}`,
          phone_number: phone,
        });
        if (options.lastWroteAt !== null) {
          await recordInbound(fixture.db, user.id, options.lastWroteAt ?? at(-60), 'whatsapp');
        }
        return { phone, userId: user.id };
      }

      async function taskFor(userId: number, dueAt: Date) {
        const task = await createTask(
          fixture.db,
          { user_id: userId, description: 'Water the plants', due_time: dueAt, points: 10 },
          { offsets: [60, 15], now: T0 },
        );
        assert.ok(task);
        return task.id;
      }

      const scheduler = (settings: Partial<NoticeSettings> = {}) => {
        let now = T0;
        const s = createReminderScheduler(
          fixture.db,
          { ...baseSettings, ...settings },
          { pollMs: 60_000, log: quietLog, clock: () => now },
        );
        return { runAt: (time: Date) => ((now = time), s.runDue()) };
      };

      /** Sends every pending outbound message through the fake Twilio at `now`. */
      async function sendPending(now: Date, settings: Partial<NoticeSettings> = {}) {
        const send = sendOutboundJob({
          db: fixture.db,
          clock: () => now,
          notices: { ...baseSettings, ...settings },
          send: createTwilioSender({
            accountSid: fixture.twilio.accountSid,
            authToken: fixture.twilio.authToken,
            apiBaseUrl: fixture.twilio.apiBaseUrl,
            statusCallbackUrl: null,
          }),
        });
        const errors: unknown[] = [];
        for (const job of await outboundQueue.claim(fixture.db, 100, 60_000)) {
          await send(job).catch((error: unknown) => errors.push(error));
        }
        return errors;
      }

      /** Processes every pending inbound message, as the worker does. */
      async function processPending(db: Database = fixture.db) {
        const copyMedia: CopyMedia = async (_item, target) => ({
          key: `messages/${target.messageSid}/${target.index}.jpg`,
          size: 1024,
          content_type: 'image/jpeg',
          url: `http://storage.test/notes/messages/${target.messageSid}/${target.index}.jpg`,
        });
        const job = processInboundJob({
          db,
          copyMedia,
          accountability: { autoRegister: false, clock: () => new Date() },
        });
        for (const message of await inboundQueue.claim(db, 100, 60_000)) await job(message);
      }

      /** `phone` writes `body` (with extra webhook parameters); resolves to the reply. */
      async function write(phone: string, body: string, extra: Record<string, string> = {}) {
        const [id] = await storeMessages(fixture.db, [{ from: phone, body, extra }]);
        await processPending();
        const [reply] = await fixture.db.query<{ body: string }>(
          `SELECT body FROM outbound_messages WHERE inbound_message_id = $1 AND kind = 'reply'`,
          [id],
        );
        return reply?.body ?? '';
      }

      const requestsTo = (phone: string) =>
        fixture.twilio.messageRequests.filter((r) => r.params.To === `whatsapp:${phone}`);
      const stagesOf = async (taskId: number) =>
        (await remindersOfTasks(fixture.db, [taskId])).get(taskId) ?? [];
      const stage = async (taskId: number, kind: string, offset: number) =>
        (await stagesOf(taskId)).find((r) => r.kind === kind && r.offset_minutes === offset);

      test('STOP: one confirmation, then a reminder due sends nothing; START: the next one is sent', async () => {
        const { phone, userId } = await person();
        const taskId = await taskFor(userId, at(61));
        assert.match(await write(phone, 'STOP'), /unsubscribed.*START/);
        const user = await findUserById(fixture.db, userId);
        assert.ok(user?.opted_out_at);
        assert.equal(user?.opt_out_source, 'keyword');

        const s = scheduler();
        await s.runAt(at(1));
        const first = await stage(taskId, 'reminder', 60);
        assert.equal(first?.status, 'skipped');
        assert.match(first?.reason ?? '', /opted out/);
        await sendPending(at(2));
        assert.equal(
          requestsTo(phone).length,
          1,
          'only the confirmation of STOP went out, no reminder',
        );
        assert.match(requestsTo(phone)[0]?.params.Body ?? '', /unsubscribed/);

        assert.match(await write(phone, 'start'), /Welcome back/);
        assert.equal((await findUserById(fixture.db, userId))?.opted_out_at, null);
        await s.runAt(at(46));
        assert.equal((await stage(taskId, 'reminder', 15))?.status, 'sent');
        await sendPending(at(47));
        const bodies = requestsTo(phone).map((r) => r.params.Body ?? '');
        assert.equal(bodies.length, 3);
        assert.match(bodies[2] ?? '', /Water the plants/);
      });

      test('a reminder queued before STOP is withheld when its turn comes; a photo still counts', async () => {
        const { phone, userId } = await person();
        const taskId = await taskFor(userId, at(61));
        await scheduler().runAt(at(1));
        assert.equal((await stage(taskId, 'reminder', 60))?.status, 'sent');
        // STOP arrives while the reminder waits in the outbound queue.
        assert.match(await write(phone, 'CANCEL'), /unsubscribed/);
        await sendPending(at(2));
        assert.deepEqual(
          requestsTo(phone)
            .map((r) => r.params.Body ?? '')
            .filter((b) => /Water/.test(b)),
          [],
        );
        const withheld = await stage(taskId, 'reminder', 60);
        assert.equal(withheld?.status, 'skipped');
        assert.match(withheld?.reason ?? '', /opted out/);
        const [outbound] = await fixture.db.query<{ status: string }>(
          `SELECT status FROM outbound_messages WHERE task_id = $1 AND kind = 'reminder'`,
          [taskId],
        );
        assert.equal(outbound?.status, 'canceled');

        // Their proofs still count while they are opted out.
        await storeMessages(fixture.db, [
          {
            from: phone,
            body: '',
            media: [
              {
                url: `https://api.twilio.com/x/Media/ME${phone.slice(1)}`,
                contentType: 'image/jpeg',
              },
            ],
          },
        ]);
        await processPending();
        assert.equal((await findTaskById(fixture.db, taskId))?.status, 'completed');
        assert.equal((await findUserById(fixture.db, userId))?.points, 10);
      });

      test('`cancel 1` is not an opt-out; bare YES from someone opted in is no consent answer', async () => {
        const { phone, userId } = await person();
        await write(phone, 'cancel 1');
        await write(phone, 'yes');
        assert.equal((await findUserById(fixture.db, userId))?.opted_out_at, null);
      });

      test('Twilio error 21610 on a send opts the person out; nothing more is sent to them', async () => {
        const { userId } = await person();
        const taskId = await taskFor(userId, at(61));
        await sendPending(T0); // earlier tests' replies: the failure must hit the reminder
        await scheduler().runAt(at(1));
        fixture.twilio.failNext(1, {
          status: 400,
          code: 21610,
          message: 'Attempt to send to unsubscribed recipient',
        });
        const errors = await sendPending(at(2));
        assert.equal(errors.length, 1);
        const user = await findUserById(fixture.db, userId);
        assert.ok(user?.opted_out_at);
        assert.equal(user?.opt_out_source, 'twilio_21610');
        await scheduler().runAt(at(46));
        const next = await stage(taskId, 'reminder', 15);
        assert.equal(next?.status, 'skipped');
        assert.match(next?.reason ?? '', /opted out/);
      });

      describe('assignment notice', () => {
        const deps = () => ({
          db: fixture.db,
          clock: () => T0,
          pointsPerTask: 10,
          reminderOffsets: [60, 15],
        });

        test('inside the window: free-form WhatsApp, with what and when, exactly once', async () => {
          const { phone, userId } = await person({ lastWroteAt: at(-60) });
          const task = await taskUseCases.createTask(deps(), {
            user_id: userId,
            description: 'Call the plumber',
            due_time: at(180).toISOString(),
          });
          assert.equal(task.reminders.find((r) => r.kind === 'assignment')?.status, 'pending');
          const s = scheduler({ contentSid: CONTENT_SID, taskNoticeContentSid: NOTICE_SID });
          await s.runAt(T0);
          await s.runAt(T0);
          const notice = await stage(task.id, 'assignment', 0);
          assert.equal(notice?.status, 'sent');
          assert.equal(notice?.channel, 'whatsapp');
          await sendPending(at(1));
          const requests = requestsTo(phone);
          assert.equal(requests.length, 1);
          assert.equal(requests[0]?.params.ContentSid, undefined);
          assert.match(
            requests[0]?.params.Body ?? '',
            /New task for you: "Call the plumber", due .*\(UTC\)/,
          );
        });

        test('outside the window: TASK_NOTICE_CONTENT_SID with the task and due time', async () => {
          const { phone, userId } = await person({ lastWroteAt: at(-25 * 60) });
          const task = await taskUseCases.createTask(deps(), {
            user_id: userId,
            description: 'Call the plumber',
            due_time: at(180).toISOString(),
          });
          await scheduler({ contentSid: CONTENT_SID, taskNoticeContentSid: NOTICE_SID }).runAt(T0);
          assert.equal((await stage(task.id, 'assignment', 0))?.channel, 'template');
          await sendPending(at(1));
          const [request] = requestsTo(phone);
          assert.equal(request?.params.ContentSid, NOTICE_SID);
          assert.equal(
            JSON.parse(request?.params.ContentVariables ?? '{}')['1'],
            'Call the plumber',
          );
        });

        test('outside the window without a template or SMS: skipped, the reason naming the fix', async () => {
          const { phone, userId } = await person({ lastWroteAt: null });
          const task = await taskUseCases.createTask(deps(), {
            user_id: userId,
            description: 'Call the plumber',
            due_time: at(180).toISOString(),
          });
          // REMINDER_CONTENT_SID is a reminder's wording: not used for an assignment.
          await scheduler({ contentSid: CONTENT_SID }).runAt(T0);
          const notice = await stage(task.id, 'assignment', 0);
          assert.equal(notice?.status, 'skipped');
          assert.match(notice?.reason ?? '', /never written on WhatsApp.*TASK_NOTICE_CONTENT_SID/);
          await sendPending(at(1));
          assert.equal(requestsTo(phone).length, 0);
        });

        test('notify: false, through the API: no notice', async () => {
          const { userId } = await person();
          const testApp = await createTestApp(engine);
          try {
            const api = async (notify?: boolean) => {
              const user = await testApp.app.inject({
                method: 'POST',
                url: '/users',
                headers: testApp.auth,
                payload: { username: 'Bo', phone_number: newPhone() },
              });
              const response = await testApp.app.inject({
                method: 'POST',
                url: '/tasks',
                headers: testApp.auth,
                payload: {
                  user_id: user.json().id,
                  description: 'Call the plumber',
                  due_time: new Date(Date.now() + 3 * 60 * MINUTE).toISOString(),
                  ...(notify === undefined ? {} : { notify }),
                },
              });
              assert.equal(response.statusCode, 201, response.body);
              return response
                .json()
                .reminders.map((r: { kind: string }) => r.kind)
                .sort();
            };
            assert.deepEqual(await api(false), ['reminder', 'reminder']);
            assert.deepEqual(await api(), ['assignment', 'reminder', 'reminder']);
            const users = await testApp.app.inject({
              method: 'GET',
              url: '/users',
              headers: testApp.auth,
            });
            assert.equal(users.json().items[0].opted_out_at, null);
          } finally {
            await testApp.close();
          }
          assert.ok(userId);
        });
      });

      describe('reminders with buttons', () => {
        test('with REMINDER_BUTTONS_CONTENT_SID, a reminder inside the window is the quick-reply template', async () => {
          const { phone, userId } = await person({ lastWroteAt: at(-60) });
          const taskId = await taskFor(userId, at(61));
          await scheduler({ buttonsContentSid: BUTTONS_SID }).runAt(at(1));
          await sendPending(at(2), { buttonsContentSid: BUTTONS_SID });
          const [request] = requestsTo(phone);
          assert.equal(request?.params.ContentSid, BUTTONS_SID);
          const variables = JSON.parse(request?.params.ContentVariables ?? '{}');
          assert.equal(variables['1'], 'Water the plants');
          assert.match(variables['2'], /\(UTC\)$/);
          assert.equal((await stage(taskId, 'reminder', 60))?.channel, 'whatsapp');
        });

        test('a pressed button is read as the command: its payload, else its label', async () => {
          const { phone, userId } = await person();
          await taskFor(userId, at(61));
          const byPayload = await write(phone, 'Show my tasks', {
            ButtonPayload: 'tasks',
            ButtonText: 'Show my tasks',
          });
          assert.match(byPayload, /Water the plants/);
          const byLabel = await write(phone, 'Tasks', {
            ButtonPayload: 'btn-2',
            ButtonText: 'Tasks',
          });
          assert.match(byLabel, /Water the plants/);
          const pause = await write(phone, 'Pause today', {
            ButtonPayload: 'pause today',
            ButtonText: 'Pause today',
          });
          assert.match(pause, /paus/i);
          const [paused] = await fixture.db.query('SELECT 1 FROM pauses WHERE user_id = $1', [
            userId,
          ]);
          assert.ok(paused, 'the button paused the person');
        });
      });
    },
  );
}
