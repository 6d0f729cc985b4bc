import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import { openPglite } from '../src/db/pglite.js';
import { pgliteTemplateDir } from '../src/db/pglite-template.js';
import { openPostgres } from '../src/db/postgres.js';
import { markOutboundSubmitted } from '../src/db/outbound.js';
import { createQueueWorker } from '../src/jobs/queue-worker.js';
import { outboundQueue } from '../src/jobs/send-outbound.js';
import {
  type Config,
  type OutboundRow,
  loadConfig,
  sendSms,
  sendWhatsAppMessage,
} from '../src/index.js';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { createPostgresDatabase, engines, makeTempDir } from './helpers/databases.js';
import { TEST_ACCOUNT_SID, TEST_API_TOKEN, TEST_AUTH_TOKEN } from './helpers/twilio-webhook.js';
import { workerOptions } from './helpers/worker.js';

// Taskwire as a library: the guide's send_whatsapp_message, with the configuration built
// by the host application instead of read from the environment.

const GROUP_NUMBER = '+14155238886';
const SMS_NUMBER = '+15005550006';

for (const engine of engines) {
  describe(`sendWhatsAppMessage / sendSms [${engine.name}]`, { skip: engine.skip }, () => {
    const temp = makeTempDir('taskwire-library-');
    let twilio: FakeTwilio;
    let config: Config;
    let dropDatabase: (() => Promise<void>) | null = null;
    let phoneSeq = 0;
    const newPhone = () =>
      `+1555${String(process.pid % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;
    const requestsTo = (to: string) => twilio.messageRequests.filter((r) => r.params.To === to);

    // The fake Twilio speaks plain http, for which the SDK has no agent of its own and uses
    // Node's shared keep-alive agent: a later send would reuse a pooled connection that the
    // fake closed meanwhile (opening PGlite blocks the event loop for seconds), and fail with
    // ECONNRESET. Over https, as with Twilio, every send has a new agent and connection.
    const sharedAgent = http.globalAgent;
    before(async () => {
      http.globalAgent = new http.Agent({ keepAlive: false });
      twilio = await startFakeTwilio();
      let databaseUrl: string | null = null;
      if (engine.name === 'postgres') {
        const created = await createPostgresDatabase();
        databaseUrl = created.url;
        dropDatabase = created.drop;
      }
      config = loadConfig({
        DATA_DIR: temp.dir,
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
        API_TOKEN: TEST_API_TOKEN,
        TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
        TWILIO_API_BASE_URL: twilio.apiBaseUrl,
        TWILIO_WHATSAPP_NUMBER: `whatsapp:${GROUP_NUMBER}`,
        TWILIO_PHONE_NUMBER: SMS_NUMBER,
      });
    });
    after(async () => {
      http.globalAgent = sharedAgent;
      await twilio?.close();
      await dropDatabase?.();
      temp.remove();
    });

    /** The database the library recorded its rows in, opened after the sends. */
    async function withDatabase<T>(work: (db: Database) => Promise<T>): Promise<T> {
      const db = config.databaseUrl
        ? await openPostgres({ connectionString: config.databaseUrl, poolSize: 1 })
        : await openPglite({
            dataDir: path.join(config.dataDir, 'pglite'),
            templateDir: pgliteTemplateDir(),
          });
      try {
        return await work(db);
      } finally {
        await db.close();
      }
    }
    const storedRow = (id: number) =>
      withDatabase(
        async (db) =>
          (
            await db.query<OutboundRow>(
              'SELECT id, twilio_sid, status, body, media_urls FROM outbound_messages WHERE id = $1',
              [id],
            )
          )[0],
      );

    test('resolves to the recorded row with the SID Twilio gave the message', async () => {
      const phone = newPhone();
      const row = await sendWhatsAppMessage(phone, 'Hi', { config });

      const [request, ...more] = requestsTo(`whatsapp:${phone}`);
      assert.equal(more.length, 0, 'one request to Twilio');
      assert.ok(request?.sid);
      assert.equal(request.params.From, `whatsapp:${GROUP_NUMBER}`);
      assert.equal(request.params.Body, 'Hi');
      assert.equal(request.form.getAll('MediaUrl').length, 0);

      assert.equal(row.twilio_sid, request.sid);
      assert.equal(row.status, 'queued');
      assert.equal(row.kind, 'send');
      assert.equal(row.to_number, `whatsapp:${phone}`);
      assert.equal(row.from_number, `whatsapp:${GROUP_NUMBER}`);
      assert.equal(row.body, 'Hi');
      assert.equal(row.error_code, null);
      assert.equal(row.attempts, 1);
      const stored = await storedRow(row.id);
      assert.equal(stored?.twilio_sid, request.sid, 'the row is kept in the database');
      assert.equal(stored?.status, 'queued');
    });

    test('media URLs are sent as MediaUrl parameters, in order, and recorded', async () => {
      const phone = newPhone();
      const mediaUrls = ['https://example.com/a.jpg', 'https://example.com/b.png'];
      const row = await sendWhatsAppMessage(phone, 'Two pictures', { config, mediaUrls });
      const [request] = requestsTo(`whatsapp:${phone}`);
      assert.deepEqual(request?.form.getAll('MediaUrl'), mediaUrls);
      assert.equal(request?.params.Body, 'Two pictures');
      assert.deepEqual(row.media_urls, mediaUrls);
      assert.equal(row.twilio_sid, request?.sid);
      assert.deepEqual((await storedRow(row.id))?.media_urls, mediaUrls);
    });

    test('sendSms sends from TWILIO_PHONE_NUMBER to the bare number', async () => {
      const phone = newPhone();
      const row = await sendSms(phone, 'By SMS', { config });
      const [request, ...more] = requestsTo(phone);
      assert.equal(more.length, 0);
      assert.equal(request?.params.From, SMS_NUMBER);
      assert.equal(request?.params.Body, 'By SMS');
      assert.equal(row.to_number, phone);
      assert.equal(row.twilio_sid, request?.sid);
    });

    test('an invalid number is refused before anything is sent', async () => {
      const before = twilio.messageRequests.length;
      await assert.rejects(sendWhatsAppMessage('not-a-number', 'Hi', { config }), /E\.164/);
      assert.equal(twilio.messageRequests.length, before);
    });

    test('a message Twilio refuses (21211) resolves to the row, failed with the code', async () => {
      const phone = newPhone();
      twilio.failNext(1, {
        status: 400,
        code: 21211,
        message: "The 'To' number is not a valid phone number.",
      });
      const row = await sendWhatsAppMessage(phone, 'Hi', { config });
      assert.equal(row.status, 'failed');
      assert.equal(row.error_code, 21211);
      assert.equal(row.twilio_sid, null);
      assert.match(row.error_message ?? '', /21211/);
      assert.equal(requestsTo(`whatsapp:${phone}`).length, 1, 'not retried');
    });

    test(
      "a send while the service's outbound worker runs on the same database is sent once, by the send",
      { skip: engine.name === 'pglite' ? 'only Postgres is shared with a running service' : false },
      async () => {
        // The service's outbound worker, woken by every NOTIFY of a new outbound row.
        const serviceDb = await openPostgres({
          connectionString: config.databaseUrl as string,
          poolSize: 4,
        });
        const sentByWorker: number[] = [];
        const worker = createQueueWorker(
          serviceDb,
          outboundQueue,
          async (job) => {
            sentByWorker.push(job.id);
            await markOutboundSubmitted(serviceDb, job, {
              sid: `SMworker${job.id}`,
              status: 'queued',
            });
          },
          workerOptions({ pollMs: 60_000 }),
        );
        await worker.start();
        try {
          const phones = Array.from({ length: 20 }, () => newPhone());
          const rows = [];
          for (const phone of phones) rows.push(await sendWhatsAppMessage(phone, 'Hi', { config }));
          assert.deepEqual(sentByWorker, [], 'the worker took none of them');
          for (const [i, row] of rows.entries()) {
            assert.equal(row.status, 'queued', `send ${i} reports the message sent`);
            assert.equal(requestsTo(`whatsapp:${phones[i]}`).length, 1);
          }
        } finally {
          await worker.stop(1000);
          await serviceDb.close();
        }
      },
    );

    test('several sends at once all go out', async () => {
      const phones = [newPhone(), newPhone(), newPhone()];
      const rows = await Promise.all(
        phones.map((phone, i) => sendWhatsAppMessage(phone, `Reminder ${i}`, { config })),
      );
      for (const [i, phone] of phones.entries()) {
        const [request, ...more] = requestsTo(`whatsapp:${phone}`);
        assert.equal(more.length, 0);
        assert.equal(request?.params.Body, `Reminder ${i}`, `row: ${JSON.stringify(rows[i])}`);
        assert.equal(rows[i]?.twilio_sid, request?.sid);
      }
      assert.equal(new Set(rows.map((row) => row.id)).size, 3, 'three recorded rows');
    });
  });
}
