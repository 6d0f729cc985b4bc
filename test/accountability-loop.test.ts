import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { engines } from './helpers/databases.js';
import { startTestService, type TestService } from './helpers/service.js';
import { signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor, waitForQueuesIdle } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';

for (const engine of engines) {
  describe(`the accountability loop, end to end [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    let t: TestService;
    let phoneSeq = 0;
    before(async () => {
      twilio = await startFakeTwilio();
      t = await startTestService(engine, {
        TWILIO_API_BASE_URL: twilio.apiBaseUrl,
        TWILIO_WHATSAPP_NUMBER: GROUP_NUMBER,
        PUBLIC_URL: 'http://127.0.0.1:0',
      });
    });
    after(async () => {
      await t?.close();
      await twilio?.close();
    });

    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${t.baseUrl}${path}`, {
        method,
        headers: { ...t.auth, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const deliver = (params: Record<string, string>) => {
      // PUBLIC_URL is what Twilio signs; the request itself goes to our real port.
      const { payload, headers } = signedForm(`http://127.0.0.1:0/webhook/twilio`, params);
      return fetch(`${t.baseUrl}/webhook/twilio`, { method: 'POST', body: payload, headers });
    };
    const newPhone = () =>
      `+1555${String(Date.now() % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;
    const repliesTo = (phone: string) =>
      twilio.messageRequests.filter((r) => r.params.To === `whatsapp:${phone}`);

    async function userWithTask(points?: number) {
      const phone = newPhone();
      const user = await api('POST', '/users', { username: `u${phoneSeq}`, phone_number: phone });
      assert.equal(user.status, 201);
      const task = await api('POST', '/tasks', {
        // These tests count the replies: no assignment notice for an admin's task.
        notify: false,
        user_id: user.body.id,
        description: 'Go for a run',
        due_time: new Date(Date.now() + 3_600_000).toISOString(),
        ...(points === undefined ? {} : { points }),
      });
      assert.equal(task.status, 201);
      return { phone, userId: user.body.id as number, taskId: task.body.id as number };
    }

    test('a photo completes the active task once: feed post, 10 points, one reply from the group number', async () => {
      const { phone, userId, taskId } = await userWithTask();
      const photo = twilio.addMedia({ bytes: randomBytes(4096), contentType: 'image/jpeg' });
      const params = whatsAppParams({
        from: phone,
        to: GROUP_NUMBER,
        body: 'Done!',
        messageSid: photo.messageSid,
        media: [{ url: photo.url, contentType: 'image/jpeg' }],
      });
      // Six concurrent deliveries of the same webhook, as Twilio retrying would.
      const acks = await Promise.all(Array.from({ length: 6 }, () => deliver(params)));
      assert.ok(acks.every((ack) => ack.status === 200));

      await waitFor(
        async () =>
          repliesTo(phone).length > 0 &&
          (await api('GET', `/tasks/${taskId}`)).body.status === 'completed',
      );
      const task = await api('GET', `/tasks/${taskId}`);
      assert.equal(task.body.status, 'completed');
      assert.ok(task.body.completed_at);
      const user = await api('GET', `/users/${userId}`);
      assert.equal(user.body.points, 10);
      const feed = await api('GET', `/feed?user_id=${userId}`);
      assert.equal(feed.body.total, 1);
      const post = (feed.body.items as Record<string, unknown>[])[0]!;
      assert.equal(post.task_id, taskId);
      assert.equal(post.post_content, 'Done!');
      assert.equal(post.status, 'published');
      // image_url is on PUBLIC_URL; this test's PUBLIC_URL only stands in for the real port.
      const image = await fetch(
        (post.image_url as string).replace('http://127.0.0.1:0', t.baseUrl),
      );
      assert.equal(image.status, 200, 'the feed image is served');

      // Once both queues are idle no duplicate can still be on its way: exactly one reply.
      await waitForQueuesIdle(t.service.db);
      const replies = repliesTo(phone);
      assert.equal(replies.length, 1);
      assert.equal(replies[0]?.params.From, `whatsapp:${GROUP_NUMBER}`);
      assert.match(replies[0]?.params.Body ?? '', /Go for a run.*\+10 points.*10 points/s);
      assert.equal(replies[0]?.params.StatusCallback, 'http://127.0.0.1:0/webhook/twilio/status');

      // A second photo after completion earns nothing more.
      const again = twilio.addMedia({ bytes: randomBytes(2048), contentType: 'image/jpeg' });
      await deliver(
        whatsAppParams({
          from: phone,
          to: GROUP_NUMBER,
          messageSid: again.messageSid,
          media: [{ url: again.url, contentType: 'image/jpeg' }],
        }),
      );
      await waitFor(async () => repliesTo(phone).length === 2);
      assert.equal((await api('GET', `/users/${userId}`)).body.points, 10);
      assert.match(repliesTo(phone)[1]?.params.Body ?? '', /no active task/);
    });

    test('text while a task is pending says what is due; keywords answer', async () => {
      const { phone } = await userWithTask(25);
      await deliver(whatsAppParams({ from: phone, to: GROUP_NUMBER, body: 'hello?' }));
      await waitFor(async () => repliesTo(phone).length === 1);
      assert.match(repliesTo(phone)[0]?.params.Body ?? '', /Go for a run.*due.*send a photo/is);
      await deliver(whatsAppParams({ from: phone, to: GROUP_NUMBER, body: 'POINTS' }));
      await waitFor(async () => repliesTo(phone).length === 2);
      assert.match(repliesTo(phone)[1]?.params.Body ?? '', /You have 0 points/);
      await deliver(whatsAppParams({ from: phone, to: GROUP_NUMBER, body: 'Help' }));
      await waitFor(async () => repliesTo(phone).length === 3);
      assert.match(repliesTo(phone)[2]?.params.Body ?? '', /Commands/);
    });

    test('an unknown sender is stored, registered under their profile name and greeted', async () => {
      const phone = newPhone();
      await deliver(
        whatsAppParams({ from: phone, to: GROUP_NUMBER, body: 'hi', profileName: 'Grace' }),
      );
      await waitFor(async () => repliesTo(phone).length === 1);
      assert.match(repliesTo(phone)[0]?.params.Body ?? '', /Welcome to Taskwire, Grace/);
      const users = await api('GET', '/users?limit=100');
      assert.ok(
        (users.body.items as { phone_number: string; username: string }[]).some(
          (u) => u.phone_number === phone && u.username === 'Grace',
        ),
      );
    });

    test('status callbacks update the reply and never move it backwards', async () => {
      const phone = newPhone();
      await deliver(whatsAppParams({ from: phone, to: GROUP_NUMBER, body: 'status please' }));
      await waitFor(async () => repliesTo(phone).length === 1);
      const sid = repliesTo(phone)[0]?.sid as string;
      const callback = (status: string, extra: Record<string, string> = {}) => {
        const { payload, headers } = signedForm('http://127.0.0.1:0/webhook/twilio/status', {
          MessageSid: sid,
          MessageStatus: status,
          AccountSid: twilio.accountSid,
          ...extra,
        });
        return fetch(`${t.baseUrl}/webhook/twilio/status`, {
          method: 'POST',
          body: payload,
          headers,
        });
      };
      const outbound = async () => {
        const page = await api('GET', '/outbound?limit=100');
        return (
          page.body.items as { twilio_sid: string; status: string; error_code: number | null }[]
        ).find((o) => o.twilio_sid === sid);
      };
      await waitFor(async () => (await outbound())?.twilio_sid === sid);
      assert.equal((await callback('delivered')).status, 204);
      assert.equal((await callback('sent')).status, 204, 'a late "sent" is accepted');
      assert.equal((await outbound())?.status, 'delivered', 'but does not move the status back');
      await callback('read');
      assert.equal((await outbound())?.status, 'read');
      const forged = await fetch(`${t.baseUrl}/webhook/twilio/status`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': 'nope',
        },
        body: new URLSearchParams({ MessageSid: sid, MessageStatus: 'failed' }).toString(),
      });
      assert.equal(forged.status, 403);
      assert.equal((await outbound())?.status, 'read');
    });

    test('a reply is retried after Twilio 500 and sent once; 21211 fails it without retry', async () => {
      const first = newPhone();
      twilio.failNext(1, { status: 500, code: 20500 });
      await deliver(whatsAppParams({ from: first, to: GROUP_NUMBER, body: 'help' }));
      await waitFor(async () => repliesTo(first).filter((r) => r.sid).length === 1, 15_000);
      await waitForQueuesIdle(t.service.db);
      assert.equal(repliesTo(first).filter((r) => r.sid).length, 1, 'sent exactly once');

      const second = newPhone();
      twilio.failNext(1, {
        status: 400,
        code: 21211,
        message: "The 'To' number is not a valid phone number.",
      });
      await deliver(whatsAppParams({ from: second, to: GROUP_NUMBER, body: 'help' }));
      const failed = await waitFor(async () => {
        const page = await api('GET', '/outbound?limit=100');
        return (
          page.body.items as {
            to_number: string;
            status: string;
            error_code: number;
            attempts: number;
          }[]
        ).find((o) => o.to_number === `whatsapp:${second}` && o.status === 'failed');
      });
      assert.equal(failed.error_code, 21211);
      assert.equal(failed.attempts, 1, 'not retried');
      assert.equal(repliesTo(second).length, 1);
    });

    test('POST /messages/send records and sends a WhatsApp message; bad input is a 400', async () => {
      const phone = newPhone();
      const sent = await api('POST', '/messages/send', { to: phone, body: 'Reminder: run today' });
      assert.equal(sent.status, 202);
      assert.equal(sent.body.kind, 'send');
      await waitFor(async () => repliesTo(phone).length === 1);
      assert.equal(repliesTo(phone)[0]?.params.Body, 'Reminder: run today');
      const bad = await api('POST', '/messages/send', { to: 'not-a-number', body: 'x' });
      assert.equal(bad.status, 400);
      const sms = await api('POST', '/messages/send', { to: phone, body: 'x', channel: 'sms' });
      assert.equal(sms.status, 422, 'no TWILIO_PHONE_NUMBER configured');
    });
  });
}
