import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { runDigestsDue } from '../src/services/group-news.js';
import { instantOf, localDateOf } from '../src/domain/local-time.js';
import { engines } from './helpers/databases.js';
import { serviceClient, startTestService, type TestService } from './helpers/service.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor, waitForQueuesIdle } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';

/**
 * A fixed-offset zone where it is about 07:00 now, so the service's own digest job (on the
 * real clock) never reaches the 19:00 digest during the test: the test runs the digest
 * itself with a clock set to this evening.
 */
function morningZone(now: Date): string {
  let offset = (7 - now.getUTCHours() + 24) % 24;
  if (offset > 14) offset -= 24;
  // Etc/GMT-N is N hours ahead of UTC (POSIX signs).
  return offset >= 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}

for (const engine of engines) {
  describe(`proofs shared with the group [${engine.name}]`, { skip: engine.skip }, () => {
    let twilio: FakeTwilio;
    let t: TestService;
    before(async () => {
      twilio = await startFakeTwilio();
      t = await startTestService(engine, {
        TWILIO_API_BASE_URL: twilio.apiBaseUrl,
        TWILIO_WHATSAPP_NUMBER: GROUP_NUMBER,
        PUBLIC_URL: 'http://127.0.0.1:0',
        SHARE_DIGEST_HOUR: '19',
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
    const prefix = `+1555${String(process.pid % 1000).padStart(3, '0')}`;

    async function person(username: string, suffix: string) {
      const phone = `${prefix}${suffix}`;
      const user = await client.api('POST', '/users', { username, phone_number: phone });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      return { id: user.body.id as number, phone, address: `whatsapp:${phone}` };
    }

    /** A message from the person, processed: it opens their 24-hour window. */
    async function writes(who: { phone: string }, body: string) {
      await client.processed(
        await client.deliver(whatsAppParams({ from: who.phone, to: GROUP_NUMBER, body })),
      );
    }

    const newsTo = (address: string) =>
      client.repliesTo(address).filter((r) => (r.params.Body ?? '').includes('Ada finished'));

    test('a photo: the member inside the window is told once with the photo, the one outside gets it in the evening digest, the opted-out one nothing', async () => {
      const db = t.service.db;
      const zone = morningZone(new Date());
      const ada = await person('Ada', '6001');
      const bob = await person('Bob', '6002');
      const cy = await person('Cy', '6003');
      const dee = await person('Dee', '6004');
      const [group] = await db.query<{ id: number }>(
        `INSERT INTO groups (name, timezone, share, invite_code)
         VALUES ('Runners', $1, 'instant', upper(substr(md5(random()::text), 1, 8))) RETURNING id`,
        [zone],
      );
      const groupId = Number(group!.id);
      await db.query(
        `INSERT INTO group_members (group_id, user_id) SELECT $1, unnest($2::bigint[])
         ON CONFLICT DO NOTHING`,
        [groupId, [ada.id, bob.id, cy.id, dee.id]],
      );
      // Bob wrote today (inside his window); Cy never did; Dee wrote, then opted out.
      await writes(bob, 'tasks');
      await writes(dee, 'tasks');
      await db.query('UPDATE users SET opted_out_at = now(), opt_out_source = $2 WHERE id = $1', [
        dee.id,
        'keyword',
      ]);

      // Ada is in the default group and Runners: the task names its group.
      const task = await client.api('POST', '/tasks', {
        user_id: ada.id,
        description: 'Run 5k',
        due_time: new Date(Date.now() + 3_600_000).toISOString(),
        notify: false,
        group_id: groupId,
      });
      assert.equal(task.status, 201, JSON.stringify(task.body));

      const photo = twilio.addMedia({ bytes: randomBytes(4096), contentType: 'image/jpeg' });
      const params = whatsAppParams({
        from: ada.phone,
        to: GROUP_NUMBER,
        body: 'Done',
        messageSid: photo.messageSid,
        media: [{ url: photo.url, contentType: 'image/jpeg' }],
      });
      await Promise.all([client.deliver(params), client.deliver(params)]);
      const processed = await client.processed(params.MessageSid!);
      await waitFor(async () => newsTo(bob.address).length > 0);
      const [told] = newsTo(bob.address);
      assert.equal(told?.params.Body, '📸 Ada finished “Run 5k”');
      assert.equal(told?.params.From, `whatsapp:${GROUP_NUMBER}`);
      assert.equal(told?.mediaUrls.length, 1, 'the photo goes with it');
      assert.match(told?.mediaUrls[0] ?? '', /^http:\/\/127\.0\.0\.1:0\//);

      // Re-processed by an admin: the news is not told again.
      const requeued = await client.api('POST', `/messages/${processed.id as number}/reprocess`);
      assert.equal(requeued.status, 202);
      await client.processed(params.MessageSid!);
      await waitForQueuesIdle(db);
      assert.equal(newsTo(bob.address).length, 1, 'Bob told once');
      assert.equal(newsTo(cy.address).length, 0, 'Cy is outside the window: not now');
      assert.equal(newsTo(dee.address).length, 0, 'Dee opted out');
      assert.equal(newsTo(ada.address).length, 0, 'Ada is not told of her own proof');
      const shares = await db.query<{ user_id: number; status: string; reason: string | null }>(
        'SELECT user_id, status, reason FROM shares ORDER BY user_id',
      );
      assert.deepEqual(
        shares.map((row) => [Number(row.user_id), row.status]),
        [
          [bob.id, 'sent'],
          [cy.id, 'pending'],
          [dee.id, 'skipped'],
        ],
      );
      assert.match(shares[2]?.reason ?? '', /opted out/);

      // Cy writes in the afternoon; at 19:00 group time the evening digest brings the news.
      await writes(cy, 'tasks');
      const evening = instantOf(
        {
          ...(([year, month, day]) => ({ year: year!, month: month!, day: day! }))(
            localDateOf(new Date(), zone).split('-').map(Number),
          ),
          hour: 19,
          minute: 5,
        },
        zone,
      );
      const settings = { defaultTimezone: 'UTC', whatsappNumber: GROUP_NUMBER, digestHour: 19 };
      // (On a Sunday the weekly digests go out too: counted apart, by kind.)
      const dailyDigests = async () =>
        (
          await db.query<{ user_id: number; status: string }>(
            `SELECT user_id, status FROM group_digests WHERE kind = 'daily' ORDER BY user_id`,
          )
        ).map((row) => [Number(row.user_id), row.status]);
      await runDigestsDue(db, settings, new Date(evening.getTime() - 10 * 60_000));
      assert.deepEqual(await dailyDigests(), [], 'not before 19:00');
      await runDigestsDue(db, settings, evening);
      await runDigestsDue(db, settings, new Date(evening.getTime() + 60_000));
      assert.deepEqual(await dailyDigests(), [[cy.id, 'sent']], 'one digest: Cy’s');
      await waitForQueuesIdle(db);
      const digest = newsTo(cy.address);
      assert.equal(digest.length, 1);
      assert.equal(digest[0]?.params.Body, '📸 Today in Runners:\n• Ada finished “Run 5k”');
      assert.equal(newsTo(bob.address).length, 1, 'Bob heard it already: not in a digest');
      assert.equal(newsTo(dee.address).length, 0);
    });
  });
}
