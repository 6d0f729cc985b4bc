import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { outboundQueue } from '../src/db/outbound.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { engines } from './helpers/databases.js';
import { serviceClient, startTestService, type TestService } from './helpers/service.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

// A reply is recorded without a NOTIFY in its processing transaction (a notifying commit
// waits for the one before it to be flushed): the process that committed it wakes its own
// sender, and announces it to the other instances with a NOTIFY after the commit. With
// WORKER_POLL_MS at a minute, only those wakes can get a reply out within seconds.

const GROUP_NUMBER = '+14155238886';

for (const engine of engines) {
  describe(`replies wake the senders [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    let t: TestService;
    before(async () => {
      twilio = await startFakeTwilio();
      t = await startTestService(engine, {
        TWILIO_API_BASE_URL: twilio.apiBaseUrl,
        TWILIO_WHATSAPP_NUMBER: GROUP_NUMBER,
        PUBLIC_URL: 'http://127.0.0.1:0',
        WORKER_POLL_MS: '60000',
      });
    });
    after(async () => {
      await t?.close();
      await twilio?.close();
    });
    const { deliver, repliesTo } = serviceClient(
      () => t,
      () => twilio,
    );

    test('the reply is sent at once, though the workers poll only every minute', async () => {
      const phone = '+15550310001';
      await deliver(whatsAppParams({ from: phone, to: GROUP_NUMBER, body: 'hello' }));
      const [reply] = await waitFor(async () => {
        const replies = repliesTo(`whatsapp:${phone}`);
        return replies.length > 0 ? replies : null;
      }, 10_000);
      assert.equal(reply?.params.From, `whatsapp:${GROUP_NUMBER}`);
    });

    test(
      'the other instances hear of the new reply after its commit',
      { skip: engine.name === 'postgres' ? false : 'one process on the embedded database' },
      async () => {
        const listener = new pg.Client({ connectionString: t.env.DATABASE_URL });
        await listener.connect();
        try {
          const phone = '+15550310002';
          const replies = () =>
            listener
              .query<{ n: string }>(
                'SELECT count(*) AS n FROM outbound_messages WHERE to_number = $1',
                [`whatsapp:${phone}`],
              )
              .then(({ rows }) => Number(rows[0]?.n));
          // What each NOTIFY found committed when it arrived.
          const seenAtNotify: Promise<number>[] = [];
          listener.on('notification', (n) => {
            if (n.channel === outboundQueue.channel) seenAtNotify.push(replies());
          });
          await listener.query(`LISTEN ${outboundQueue.channel}`);
          await deliver(whatsAppParams({ from: phone, to: GROUP_NUMBER, body: 'anyone there?' }));
          // A NOTIFY arrives with the reply already committed: another instance could send it.
          await waitFor(
            async () => ((await Promise.all(seenAtNotify)).includes(1) ? true : null),
            10_000,
          );
        } finally {
          await listener.end();
        }
      },
    );
  });
}
