import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../src/db/executor.js';
import { createGroupCommitter } from '../src/db/group-commit.js';
import { findMessageBySid } from '../src/db/messages.js';
import { WEBHOOK_BODY_LIMIT } from '../src/http/routes/twilio-webhook.js';
import { createInboundStore } from '../src/start/inbound-store.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines, pglite } from './helpers/databases.js';
import { newMessageSid, signedForm, whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const LOCAL_URL = 'http://localhost/webhook/twilio';
const REPLACEMENT = '\uFFFD';

/** The database, recording how many rows each INSERT INTO messages carried. */
function recordingInserts(db: Database): { db: Database; batches: string[][] } {
  const batches: string[][] = [];
  const spy = new Proxy(db, {
    get(target, property) {
      if (property === 'query') {
        return (sql: string, params?: readonly unknown[]) => {
          if (sql.includes('INSERT INTO messages')) batches.push([...(params?.[0] as string[])]);
          return target.query(sql, params);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { db: spy, batches };
}

for (const engine of engines) {
  describe(`one bad webhook never fails the others [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    let batches: string[][];
    before(async () => {
      const database = await engine.create();
      const recording = recordingInserts(database.db);
      batches = recording.batches;
      t = await createTestApp(
        { ...engine, create: async () => database },
        { inboundStore: createInboundStore(recording.db) },
      );
    });
    after(async () => t?.close());

    const post = (params: Record<string, string>) =>
      t.app.inject({ method: 'POST', url: '/webhook/twilio', ...signedForm(LOCAL_URL, params) });

    /** 30 concurrent signed webhooks, `special` among them; every answer, in order. */
    const postThirty = async (special: Record<string, string>[]) => {
      const all = [...special];
      while (all.length < 30) all.push(whatsAppParams({ body: `legit ${all.length}` }));
      const responses = await Promise.all(all.map((params) => post(params)));
      return all.map((params, index) => ({
        sid: params.MessageSid as string,
        status: responses[index]?.statusCode,
        json: () => responses[index]?.json() as { error: { code: string; message: string } },
      }));
    };

    test('a NUL in Body, ProfileName or From is verified as signed, then stored cleaned; all 30 are 200', async () => {
      batches.length = 0;
      const withNul = [
        whatsAppParams({ body: 'Gym\u0000done' }),
        whatsAppParams({ profileName: 'A\u0000da' }),
        whatsAppParams({ from: '+1555\u0000123' }),
        whatsAppParams({ extra: { 'Future\u0000Key': 'x\u0000y' } }),
      ];
      const answers = await postThirty(withNul);
      assert.deepEqual(
        answers.map((answer) => answer.status),
        answers.map(() => 200),
      );
      for (const answer of answers) {
        assert.ok(await findMessageBySid(t.database.db, answer.sid), `${answer.sid} is stored`);
      }
      // They shared statements with the legitimate ones: the case that used to fail them all.
      const sids = withNul.map((params) => params.MessageSid as string);
      assert.ok(batches.some((batch) => batch.length > 1 && sids.some((s) => batch.includes(s))));

      const [body, name, from, key] = await Promise.all(
        sids.map(async (sid) => findMessageBySid(t.database.db, sid)),
      );
      assert.equal(body?.body, `Gym${REPLACEMENT}done`);
      assert.equal(body?.raw.Body, `Gym${REPLACEMENT}done`);
      assert.equal(name?.raw.ProfileName, `A${REPLACEMENT}da`);
      // Replaced, not removed: `+1555123` would be somebody else's number.
      assert.equal(from?.from_number, `whatsapp:+1555${REPLACEMENT}123`);
      assert.equal(key?.raw[`Future${REPLACEMENT}Key`], `x${REPLACEMENT}y`);
    });

    test('a row the database refuses for another reason fails alone (422); the rest of its batch is stored', async () => {
      await t.database.db.exec(
        `ALTER TABLE messages ADD CONSTRAINT test_refused_body CHECK (body <> 'refuse me')`,
      );
      try {
        batches.length = 0;
        const refused = whatsAppParams({ body: 'refuse me' });
        const answers = await postThirty([refused]);
        const [bad, ...good] = answers;
        assert.equal(bad?.status, 422);
        assert.equal(bad?.json().error.code, 'unprocessable');
        assert.match(bad?.json().error.message ?? '', /SQLSTATE 23514/);
        assert.equal(await findMessageBySid(t.database.db, refused.MessageSid as string), null);
        assert.deepEqual(
          good.map((answer) => answer.status),
          good.map(() => 200),
        );
        for (const answer of good) {
          assert.ok(await findMessageBySid(t.database.db, answer.sid), `${answer.sid} is stored`);
        }
        // The failed statement carried others too, and each was then written alone.
        const failed = batches.find((batch) => batch.includes(refused.MessageSid as string));
        assert.ok(failed && failed.length > 1, 'the refused row shared a statement');
        for (const sid of failed) assert.ok(batches.some((b) => b.length === 1 && b[0] === sid));
      } finally {
        await t.database.db.exec('ALTER TABLE messages DROP CONSTRAINT test_refused_body');
      }
    });

    test('a MessageSid that is not letters and digits is 400 at the webhook and not stored', async () => {
      for (const sid of ['SM../../etc', 'SM 1234', 'SM-1234', 'SM\u00001234', 'SM%2F1', 'SMé']) {
        const response = await post(whatsAppParams({ messageSid: sid }));
        assert.equal(response.statusCode, 400, sid);
        const json = response.json() as { error: { code: string; message: string } };
        assert.equal(json.error.code, 'validation_failed');
        assert.match(json.error.message, /MessageSid/);
      }
      const stored = await t.database.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messages WHERE message_sid !~ '^[A-Za-z0-9]+$'`,
      );
      assert.equal(stored[0]?.n, 0);
    });

    test('a status callback with a NUL or a huge ErrorCode is never a 500', async () => {
      const status = (params: Record<string, string>) =>
        t.app.inject({
          method: 'POST',
          url: '/webhook/twilio/status',
          ...signedForm('http://localhost/webhook/twilio/status', params),
        });
      const sid = newMessageSid();
      assert.equal(
        (await status({ MessageSid: `SM\u0000${sid}`, MessageStatus: 'delivered' })).statusCode,
        400,
      );
      assert.equal(
        (await status({ MessageSid: sid, MessageStatus: 'deliv\u0000ered' })).statusCode,
        400,
      );
      const huge = await status({
        MessageSid: sid,
        MessageStatus: 'failed',
        ErrorCode: '99999999999999999999',
      });
      assert.equal(huge.statusCode, 204);
    });
  });
}

describe('group commit: a refused statement is retried one item at a time', () => {
  const committer = (retryAlone?: (error: unknown) => boolean) => {
    const batches: number[][] = [];
    const commit = createGroupCommitter<number, number>({
      maxInFlight: 1,
      maxBatch: 100,
      async write(items) {
        batches.push(items);
        if (items.includes(-1)) throw new Error('refused');
        return items.map((item) => item * 10);
      },
      retryAlone,
    });
    return { commit, batches };
  };

  test('with retryAlone, only the refused item fails', async () => {
    const { commit, batches } = committer(() => true);
    const results = await Promise.allSettled([1, -1, 2].map((item) => commit.submit(item)));
    assert.deepEqual(
      results.map((result) => (result.status === 'fulfilled' ? result.value : 'rejected')),
      [10, 'rejected', 20],
    );
    assert.deepEqual(batches, [[1, -1, 2], [1], [-1], [2]]);
  });

  test('an error retryAlone declines (the database unreachable) fails the batch without retries', async () => {
    const { commit, batches } = committer(() => false);
    const results = await Promise.allSettled([1, -1, 2].map((item) => commit.submit(item)));
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.deepEqual(batches, [[1, -1, 2]]);
  });
});

describe(`webhook bodies over ${WEBHOOK_BODY_LIMIT / 1024} KiB are refused before they are read`, () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await createTestApp(pglite);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(async () => t?.close());

  /** Sends `head` (and `chunks`) on a raw connection; resolves with what the server answers. */
  const rawRequest = (head: string, chunks: Buffer[]) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let closed = false;
    socket.on('data', (data: Buffer) => {
      answer += data.toString('latin1');
    });
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', () => {});
    socket.write(head);
    for (const chunk of chunks) socket.write(chunk);
    return { answer: () => answer, closed: () => closed, destroy: () => socket.destroy() };
  };

  const formHead = (framing: string) =>
    'POST /webhook/twilio HTTP/1.1\r\nHost: localhost\r\n' +
    `Content-Type: application/x-www-form-urlencoded\r\n${framing}\r\n\r\n`;

  test('from its Content-Length: 413 while the body is still unsent, then the connection closes', async () => {
    // Announces 1 MiB and sends none of it: only a check of the header can answer.
    const connection = rawRequest(formHead(`Content-Length: ${1024 * 1024}`), []);
    try {
      await waitFor(async () => connection.answer().includes('\r\n\r\n'));
      assert.match(connection.answer(), /^HTTP\/1\.1 413 /);
      assert.match(connection.answer(), /payload_too_large/);
      await waitFor(async () => connection.closed());
    } finally {
      connection.destroy();
    }
  });

  test('a chunked body: 413 as soon as it passes the limit, though the client has not finished', async () => {
    const size = WEBHOOK_BODY_LIMIT + 1024;
    const chunk = Buffer.from(`${size.toString(16)}\r\n${'Body='.padEnd(size, 'x')}\r\n`);
    // No terminating zero-length chunk: the body never ends.
    const connection = rawRequest(formHead('Transfer-Encoding: chunked'), [chunk]);
    try {
      await waitFor(async () => connection.answer().includes('\r\n\r\n'));
      assert.match(connection.answer(), /^HTTP\/1\.1 413 /);
      await waitFor(async () => connection.closed());
    } finally {
      connection.destroy();
    }
  });

  test('a signed form just over the limit is 413 and not stored; one under it is stored', async () => {
    const over = whatsAppParams({ body: 'x'.repeat(WEBHOOK_BODY_LIMIT) });
    const tooLarge = await t.app.inject({
      method: 'POST',
      url: '/webhook/twilio',
      ...signedForm(LOCAL_URL, over),
    });
    assert.equal(tooLarge.statusCode, 413);
    assert.equal(await findMessageBySid(t.database.db, over.MessageSid as string), null);

    const under = whatsAppParams({ body: '💪'.repeat(4096) });
    const stored = await t.app.inject({
      method: 'POST',
      url: '/webhook/twilio',
      ...signedForm(LOCAL_URL, under),
    });
    assert.equal(stored.statusCode, 200);
    assert.ok(await findMessageBySid(t.database.db, under.MessageSid as string));
  });
});
