import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { engines } from './helpers/databases.js';
import { serviceClient, startTestService, type TestService } from './helpers/service.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

// The accountability loop end to end (signed webhook → stored → workers → reply through the
// fake Twilio) for the senders and media the happy path does not cover.

const GROUP_NUMBER = '+14155238886';
// A WhatsApp user who hides their number behind a username: Twilio's From is this id.
const USERNAME_ID = 'US.13491208655302741918';

type Json = Record<string, unknown>;

const serviceEnv = (twilio: FakeTwilio, extra: Record<string, string> = {}) => ({
  TWILIO_API_BASE_URL: twilio.apiBaseUrl,
  TWILIO_WHATSAPP_NUMBER: GROUP_NUMBER,
  PUBLIC_URL: 'http://127.0.0.1:0',
  ...extra,
});

for (const engine of engines) {
  describe(
    `accountability loop: senders, media and task states [${engine.name}]`,
    { skip: engine.skip },
    () => {
      let twilio: FakeTwilio;
      let t: TestService;
      let phoneSeq = 0;
      before(async () => {
        twilio = await startFakeTwilio();
        t = await startTestService(engine, serviceEnv(twilio));
      });
      after(async () => {
        await t?.close();
        await twilio?.close();
      });
      const { api, deliver, repliesTo, processed, allUsers } = serviceClient(
        () => t,
        () => twilio,
      );
      const newPhone = () =>
        `+1555${String(Date.now() % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;
      const dueIn = (ms: number) => new Date(Date.now() + ms).toISOString();
      const photoFrom = (from: string, extra: Record<string, string> = {}) => {
        const media = twilio.addMedia({ bytes: randomBytes(2048), contentType: 'image/jpeg' });
        const params = whatsAppParams({
          from,
          to: GROUP_NUMBER,
          messageSid: media.messageSid,
          media: [{ url: media.url, contentType: 'image/jpeg' }],
        });
        return { ...params, ...extra };
      };
      const withoutWaId = (params: Record<string, string>) => {
        const { WaId: _dropped, ...rest } = params;
        return rest;
      };

      test('a WhatsApp username sender (no phone number, no WaId) is stored, registered by its id once, and matched again', async () => {
        const address = `whatsapp:${USERNAME_ID}`;
        const first = withoutWaId(
          whatsAppParams({ from: USERNAME_ID, to: GROUP_NUMBER, body: 'hi', profileName: 'Lin' }),
        );
        assert.equal(first.From, address);
        assert.equal(first.WaId, undefined);
        const firstSid = await deliver(first);
        const stored = await processed(firstSid);
        assert.equal(stored.from_number, address);
        assert.equal(stored.error, null, 'processed without error');

        const registered = (await allUsers()).filter((u) => u.whatsapp_id === USERNAME_ID);
        assert.equal(registered.length, 1, 'one user for the id');
        assert.equal(registered[0]?.phone_number, null);
        assert.equal(registered[0]?.username, 'Lin');
        await waitFor(async () => repliesTo(address).length === 1);
        assert.match(repliesTo(address)[0]?.params.Body ?? '', /Welcome to Taskwire, Lin/);

        // The same id writes again: the same user, no second registration, no second welcome.
        const task = await api('POST', '/tasks', {
          // These tests count the replies: no assignment notice for an admin's task.
          notify: false,
          user_id: registered[0]?.id,
          description: 'Read a chapter',
          due_time: dueIn(3_600_000),
          points: 15,
        });
        assert.equal(task.status, 201);
        const secondSid = await deliver(withoutWaId(photoFrom(USERNAME_ID)));
        await processed(secondSid);
        assert.equal((await allUsers()).filter((u) => u.whatsapp_id === USERNAME_ID).length, 1);
        assert.equal((await api('GET', `/tasks/${task.body.id}`)).body.status, 'completed');
        assert.equal((await api('GET', `/users/${registered[0]?.id}`)).body.points, 15);
        await waitFor(async () => repliesTo(address).length === 2);
        const reply = repliesTo(address)[1]?.params.Body ?? '';
        assert.match(reply, /Read a chapter.*\+15 points/s);
        assert.doesNotMatch(reply, /Welcome/);
      });

      test('a known user writing from a WhatsApp username is matched by WaId, and the username remembered', async () => {
        const phone = newPhone();
        const username = `US.${Date.now()}${phoneSeq}`;
        const before = (await allUsers()).length;
        const user = await api('POST', '/users', { username: 'Lee', phone_number: phone });
        const task = await api('POST', '/tasks', {
          notify: false,
          user_id: user.body.id,
          description: 'Read a chapter',
          due_time: dueIn(3_600_000),
        });
        // Twilio's WaId still carries the phone number the username belongs to.
        await processed(await deliver(photoFrom(username, { WaId: phone.slice(1) })));
        assert.equal((await allUsers()).length, before + 1, 'nobody registered for the username');
        assert.equal((await api('GET', `/tasks/${task.body.id}`)).body.status, 'completed');
        assert.equal((await api('GET', `/users/${user.body.id}`)).body.whatsapp_id, username);

        // From now on the username alone (no WaId) finds them.
        await api('POST', '/tasks', {
          notify: false,
          user_id: user.body.id,
          description: 'Read another chapter',
          due_time: dueIn(3_600_000),
        });
        await processed(await deliver(withoutWaId(photoFrom(username))));
        assert.equal((await api('GET', `/users/${user.body.id}`)).body.points, 20);
        assert.equal((await allUsers()).length, before + 1);
      });

      test('a user the admin created with a whatsapp_id is matched by it', async () => {
        const whatsappId = 'GB.80031337000000000042';
        const phone = newPhone();
        const before = (await allUsers()).length;
        const user = await api('POST', '/users', {
          username: 'Maya',
          phone_number: phone,
          whatsapp_id: whatsappId,
        });
        assert.equal(user.status, 201);
        const task = await api('POST', '/tasks', {
          notify: false,
          user_id: user.body.id,
          description: 'Stretch',
          due_time: dueIn(3_600_000),
          points: 20,
        });
        await processed(await deliver(withoutWaId(photoFrom(whatsappId))));
        assert.equal((await allUsers()).length, before + 1, 'no user registered for the id');
        assert.equal((await api('GET', `/tasks/${task.body.id}`)).body.status, 'completed');
        assert.equal((await api('GET', `/users/${user.body.id}`)).body.points, 20);
        const feed = await api('GET', `/feed?user_id=${user.body.id}`);
        assert.equal(feed.body.total, 1);
        await waitFor(async () => repliesTo(`whatsapp:${whatsappId}`).length === 1);
        assert.match(repliesTo(`whatsapp:${whatsappId}`)[0]?.params.Body ?? '', /Stretch/);
      });

      test('audio and documents complete nothing; the reply asks for a photo', async () => {
        const phone = newPhone();
        const user = await api('POST', '/users', { username: 'Sam', phone_number: phone });
        const task = await api('POST', '/tasks', {
          notify: false,
          user_id: user.body.id,
          description: 'Walk the dog',
          due_time: dueIn(3_600_000),
        });
        for (const contentType of ['audio/ogg', 'application/pdf']) {
          const media = twilio.addMedia({ bytes: randomBytes(1024), contentType });
          const sid = await deliver(
            whatsAppParams({
              from: phone,
              to: GROUP_NUMBER,
              body: '',
              messageSid: media.messageSid,
              media: [{ url: media.url, contentType }],
            }),
          );
          const stored = await processed(sid);
          assert.equal(
            (stored.storage_urls as string[]).length,
            1,
            `the ${contentType} item is stored all the same`,
          );
        }
        await waitFor(async () => repliesTo(`whatsapp:${phone}`).length === 2);
        for (const reply of repliesTo(`whatsapp:${phone}`)) {
          assert.match(reply.params.Body ?? '', /send a photo/i);
        }
        assert.equal((await api('GET', `/tasks/${task.body.id}`)).body.status, 'active');
        assert.equal((await api('GET', `/users/${user.body.id}`)).body.points, 0);
        assert.equal((await api('GET', `/feed?user_id=${user.body.id}`)).body.total, 0);
      });

      test('cancelled and expired tasks are never completed by a photo', async () => {
        const phone = newPhone();
        const user = await api('POST', '/users', { username: 'Kim', phone_number: phone });
        const userId = user.body.id as number;
        const newTask = async (description: string, dueMs: number) =>
          (
            await api('POST', '/tasks', {
              notify: false,
              user_id: userId,
              description,
              due_time: dueIn(dueMs),
              points: 30,
            })
          ).body.id as number;
        // Both are due before the active task created later, so they would be picked first.
        const cancelled = await newTask('Cancelled one', 60_000);
        const expired = await newTask('Expired one', 120_000);
        const cancel = await api('PATCH', `/tasks/${cancelled}`, { status: 'cancelled' });
        assert.equal(cancel.status, 200);
        await t.service.db.query(`UPDATE tasks SET status = 'expired' WHERE id = $1`, [expired]);

        await processed(await deliver(photoFrom(phone)));
        await waitFor(async () => repliesTo(`whatsapp:${phone}`).length === 1);
        // The latest closed task expired, so the reply says so rather than "no active task".
        assert.match(
          repliesTo(`whatsapp:${phone}`)[0]?.params.Body ?? '',
          /"Expired one" expired: it was due/,
        );
        assert.equal((await api('GET', `/tasks/${cancelled}`)).body.status, 'cancelled');
        assert.equal((await api('GET', `/tasks/${expired}`)).body.status, 'expired');
        assert.equal((await api('GET', `/users/${userId}`)).body.points, 0);
        assert.equal((await api('GET', `/feed?user_id=${userId}`)).body.total, 0);

        // With an active task due after them, a photo completes that one and only that one.
        const active = await newTask('Active one', 3_600_000);
        await processed(await deliver(photoFrom(phone)));
        assert.equal((await api('GET', `/tasks/${active}`)).body.status, 'completed');
        assert.equal((await api('GET', `/tasks/${cancelled}`)).body.status, 'cancelled');
        assert.equal((await api('GET', `/tasks/${expired}`)).body.status, 'expired');
        assert.equal((await api('GET', `/users/${userId}`)).body.points, 30);
        const feed = await api('GET', `/feed?user_id=${userId}`);
        assert.equal(feed.body.total, 1);
        assert.equal((feed.body.items as Json[])[0]?.task_id, active);
      });
    },
  );

  describe(
    `accountability loop with AUTO_REGISTER=false [${engine.name}]`,
    { skip: engine.skip },
    () => {
      let twilio: FakeTwilio;
      let t: TestService;
      before(async () => {
        twilio = await startFakeTwilio();
        t = await startTestService(engine, serviceEnv(twilio, { AUTO_REGISTER: 'false' }));
      });
      after(async () => {
        await t?.close();
        await twilio?.close();
      });
      const { api, deliver, repliesTo, processed, allUsers } = serviceClient(
        () => t,
        () => twilio,
      );

      test('an unknown sender is stored and processed, not registered, and told the number is not part of a group', async () => {
        const phone = '+15557770001';
        const media = twilio.addMedia({ bytes: randomBytes(1024), contentType: 'image/jpeg' });
        const sid = await deliver(
          whatsAppParams({
            from: phone,
            to: GROUP_NUMBER,
            profileName: 'Stranger',
            messageSid: media.messageSid,
            media: [{ url: media.url, contentType: 'image/jpeg' }],
          }),
        );
        const stored = await processed(sid);
        assert.equal(stored.processed, true);
        assert.equal(stored.error, null);
        assert.deepEqual(await allUsers(), [], 'no user created');
        assert.equal((await api('GET', '/feed')).body.total, 0);

        await waitFor(async () => repliesTo(`whatsapp:${phone}`).length === 1);
        const reply = repliesTo(`whatsapp:${phone}`)[0];
        assert.equal(reply?.params.From, `whatsapp:${GROUP_NUMBER}`);
        assert.match(reply?.params.Body ?? '', /isn't part of a Taskwire group/);
        assert.doesNotMatch(reply?.params.Body ?? '', /Welcome/);

        // A username sender without a user is refused the same way.
        const usernameSid = await deliver(
          Object.fromEntries(
            Object.entries(whatsAppParams({ from: USERNAME_ID, to: GROUP_NUMBER })).filter(
              ([key]) => key !== 'WaId',
            ),
          ),
        );
        await processed(usernameSid);
        assert.deepEqual(await allUsers(), []);
        await waitFor(async () => repliesTo(`whatsapp:${USERNAME_ID}`).length === 1);
        assert.match(
          repliesTo(`whatsapp:${USERNAME_ID}`)[0]?.params.Body ?? '',
          /isn't part of a Taskwire group/,
        );
      });
    },
  );
}
