import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { insertMessages } from '../src/db/messages.js';
import { isAppError } from '../src/domain/errors.js';
import { isE164, normalizePhoneNumber, parsePhoneNumber } from '../src/domain/phone.js';
import { findMessage, readStoredMedia, reprocessMessage } from '../src/services/messages.js';
import { getOutbound } from '../src/services/outbound.js';
import { createTask, getTask, type TaskDeps, updateTask } from '../src/services/tasks.js';
import { createUser, getUser, updateUser } from '../src/services/users.js';
import type { BlobStore } from '../src/storage/adapter.js';
import { engines, type TestDatabase } from './helpers/databases.js';

/** Asserts that `work` rejects with the AppError `code`, its message matching `message`. */
async function rejectsWith(work: Promise<unknown>, code: string, message: RegExp) {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(isAppError(error), `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

describe('one E.164 parser (domain/phone.ts)', () => {
  test('strips the whatsapp: prefix and separators, and refuses what is no phone number', () => {
    assert.equal(normalizePhoneNumber(' WhatsApp:+1 (555) 123-4567 '), '+15551234567');
    assert.equal(normalizePhoneNumber('+0123456789'), null);
    assert.equal(normalizePhoneNumber('whatsapp:US.13491208655302741918'), null);
    assert.equal(isE164('+15551234567'), true);
    assert.equal(isE164('whatsapp:+15551234567'), false);
    assert.throws(() => parsePhoneNumber('12', 'to'), /to must be an E\.164 phone number/);
  });
});

// The admin use cases run without HTTP, as the CLI and the library call them: a database,
// a store and a clock, nothing of Fastify.
for (const engine of engines) {
  describe(`admin use cases without HTTP [${engine.name}]`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let deps: TaskDeps;
    const now = new Date('2030-01-01T12:00:00Z');

    before(async () => {
      database = await engine.create();
      deps = { db: database.db, clock: () => now, pointsPerTask: 7, reminderOffsets: [60, 15] };
    });
    after(async () => database?.destroy());

    test('users: parsed on the way in, not_found and nothing-to-change refused', async () => {
      const user = await createUser(deps, {
        username: '  Ada ',
        phone_number: 'whatsapp:+1 555-040-0001',
      });
      assert.equal(user.username, 'Ada');
      assert.equal(user.phone_number, '+15550400001');
      assert.equal((await getUser(deps, user.id)).id, user.id);
      await rejectsWith(getUser(deps, user.id + 1000), 'not_found', /No user with id/);
      await rejectsWith(updateUser(deps, user.id, {}), 'validation_failed', /Nothing to change/);
      await rejectsWith(
        updateUser(deps, user.id, { phone_number: 'nope' }),
        'validation_failed',
        /phone_number must be an E\.164/,
      );
    });

    test('tasks: default points and stages from the injected clock; only active tasks change', async () => {
      const user = await createUser(deps, { username: 'Bo', phone_number: '+15550400002' });
      await rejectsWith(
        createTask(deps, {
          user_id: user.id + 1000,
          description: 'Run',
          due_time: '2030-01-02T12:00:00Z',
        }),
        'unprocessable',
        /create the user first/,
      );
      const task = await createTask(deps, {
        user_id: user.id,
        description: ' Run 5 km ',
        due_time: '2030-01-02T12:00:00Z',
      });
      assert.equal(task.points, 7);
      assert.equal(task.description, 'Run 5 km');
      assert.deepEqual(
        task.reminders
          .filter((stage) => stage.kind === 'reminder')
          .map((stage) => stage.offset_minutes),
        [60, 15],
      );
      const cancelled = await updateTask(deps, task.id, { status: 'cancelled' });
      assert.equal(cancelled.status, 'cancelled');
      await rejectsWith(
        updateTask(deps, task.id, { description: 'Walk' }),
        'conflict',
        /only active tasks can be changed/,
      );
      await rejectsWith(updateTask(deps, task.id, {}), 'validation_failed', /Nothing to change/);
      assert.equal((await getTask(deps, task.id)).description, 'Run 5 km');
    });

    test('messages: found by id or MessageSid, requeued unless a worker holds them', async () => {
      const sid = `SM${'a'.repeat(32)}`;
      const [inserted] = await insertMessages(database.db, [
        {
          messageSid: sid,
          accountSid: null,
          from: 'whatsapp:+15550400003',
          to: 'whatsapp:+14155238886',
          sender: '+15550400003',
          body: 'hello',
          numMedia: 1,
          mediaItems: [{ url: 'https://api.twilio.com/media/ME1', content_type: 'image/jpeg' }],
          profileName: null,
          waId: null,
          raw: {},
        },
      ]);
      const id = inserted?.id as number;
      assert.equal((await findMessage(deps, sid)).id, id);
      assert.equal((await findMessage(deps, String(id))).message_sid, sid);
      await rejectsWith(findMessage(deps, 'SMnone'), 'not_found', /No message with id or/);

      const store = {
        get: () => Promise.reject(new Error('storage is down')),
      } as unknown as BlobStore;
      await rejectsWith(
        readStoredMedia({ db: database.db, store }, sid, 1),
        'not_found',
        /has 1 media item\(s\); there is no index 1/,
      );
      await rejectsWith(
        readStoredMedia({ db: database.db, store }, sid, 0),
        'conflict',
        /not stored yet/,
      );
      await database.db.query(
        `UPDATE messages SET stored_media = $2::jsonb, processing_status = 'processed' WHERE id = $1`,
        [id, JSON.stringify([{ index: 0, key: 'messages/x/0.jpg', content_type: 'image/jpeg' }])],
      );
      const failures: string[] = [];
      await rejectsWith(
        readStoredMedia({ db: database.db, store }, sid, 0, (key) => failures.push(key)),
        'service_unavailable',
        /Storage did not answer/,
      );
      assert.deepEqual(failures, ['messages/x/0.jpg']);

      const woken: number[] = [];
      const queued = await reprocessMessage(
        { db: database.db, onQueued: (n) => woken.push(n) },
        sid,
      );
      assert.equal(queued.processing_status, 'pending');
      assert.deepEqual(woken, [id]);
      await database.db.query(
        `UPDATE messages SET processing_status = 'processing' WHERE id = $1`,
        [id],
      );
      await rejectsWith(reprocessMessage(deps, sid), 'conflict', /being processed right now/);
    });

    test('outbound: not_found for an id never sent', async () => {
      await rejectsWith(getOutbound(deps, 999_999), 'not_found', /No outbound message with id/);
    });
  });
}
