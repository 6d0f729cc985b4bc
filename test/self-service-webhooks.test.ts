import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { engines } from './helpers/databases.js';
import { serviceClient, startTestService, type TestService } from './helpers/service.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { waitForQueuesIdle } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';

for (const engine of engines) {
  describe(`new by WhatsApp, exactly once [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    let t: TestService;
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
    const client = serviceClient(
      () => t,
      () => twilio,
    );

    test('a new re-delivered by Twilio and then re-processed creates one task and one reply', async () => {
      const phone = `+1555${String(process.pid % 1000).padStart(3, '0')}7001`;
      const user = await client.api('POST', '/users', {
        username: 'Ada',
        phone_number: phone,
        timezone: 'Europe/Paris',
      });
      assert.equal(user.status, 201);
      const params = whatsAppParams({
        from: phone,
        to: GROUP_NUMBER,
        body: 'new Run 5k tomorrow 7am',
      });
      // Twilio retrying the webhook: the same MessageSid three times, two of them at once.
      await Promise.all([client.deliver(params), client.deliver(params)]);
      const sid = await client.deliver(params);
      const processed = await client.processed(sid);
      const tasksOfAda = async () =>
        (await client.api('GET', `/tasks?user_id=${user.body.id as number}`)).body.items as {
          id: number;
          description: string;
          status: string;
        }[];
      assert.deepEqual(
        (await tasksOfAda()).map((task) => [task.description, task.status]),
        [['Run 5k', 'active']],
      );

      // An admin re-processing the message runs the command again: it finds its task.
      const requeued = await client.api('POST', `/messages/${processed.id as number}/reprocess`);
      assert.equal(requeued.status, 202, JSON.stringify(requeued.body));
      // Requeued (pending) by the time it answered: processed again once it says processed.
      await client.processed(sid);
      await waitForQueuesIdle(t.service.db);
      assert.equal((await tasksOfAda()).length, 1, 'still one task');
      const replies = client.repliesTo(`whatsapp:${phone}`);
      assert.equal(replies.length, 1, 'one reply');
      assert.match(
        replies[0]?.params.Body ?? '',
        /Task 1: "Run 5k", due .*07:00 \(Europe\/Paris\)/,
      );
    });
  });
}
