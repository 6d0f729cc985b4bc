import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import { storeMessages } from './helpers/worker.js';

// GET /conversations: the admin inbox, one conversation per person, newest activity first,
// with search, the failed / awaiting review / opted out filters and the 24-hour window.

interface Conversation {
  number: string;
  username: string | null;
  opted_out: boolean;
  failed_count: number;
  inbound_count: number;
  last_body: string | null;
  window_open: boolean;
}

for (const engine of engines) {
  describe(`GET /conversations (${engine.name})`, { skip: engine.skip }, () => {
    let t: TestApp;
    const ADA = '+15550190001';
    const GRACE = '+15550190002';
    const STRANGER = '+15550190003';

    before(async () => {
      t = await createTestApp(engine, {
        senders: { whatsapp: '+14155238886', sms: '+15005550006' },
      });
      for (const [username, phone_number] of [
        ['Ada', ADA],
        ['Grace', GRACE],
      ]) {
        const response = await t.app.inject({
          method: 'POST',
          url: '/users',
          headers: t.auth,
          payload: { username, phone_number },
        });
        assert.equal(response.statusCode, 201);
      }
      await storeMessages(t.database.db, [{ from: STRANGER, body: 'who is this?' }]);
      await storeMessages(t.database.db, [{ from: ADA, body: 'Done with the run' }]);
    });
    after(() => t?.close());

    const list = async (query = '') => {
      const response = await t.app.inject({
        method: 'GET',
        url: `/conversations${query}`,
        headers: t.auth,
      });
      assert.equal(response.statusCode, 200, response.body);
      return response.json<{ items: Conversation[]; total: number }>();
    };

    test('one per person, newest activity first, named, with the last message and the window', async () => {
      const page = await list();
      assert.deepEqual(
        page.items.map((c) => c.number),
        [ADA, STRANGER, GRACE],
      );
      const [ada, stranger, grace] = page.items as [Conversation, Conversation, Conversation];
      assert.equal(ada.username, 'Ada');
      assert.equal(ada.last_body, 'Done with the run');
      assert.equal(ada.window_open, true, 'Ada wrote on WhatsApp just now');
      assert.equal(stranger.username, null, 'a number nobody has still has its conversation');
      assert.equal(grace.inbound_count, 0);
      assert.equal(grace.window_open, false, 'Grace never wrote: no free-form message');
    });

    test('search by name, number or message text; filters', async () => {
      assert.deepEqual(
        (await list('?q=grace')).items.map((c) => c.number),
        [GRACE],
      );
      assert.deepEqual(
        (await list('?q=who%20is')).items.map((c) => c.number),
        [STRANGER],
      );
      assert.deepEqual(
        (await list('?q=0190001')).items.map((c) => c.number),
        [ADA],
      );
      assert.equal((await list('?q=100%25')).total, 0, 'a % is searched for, not a wildcard');

      assert.equal((await list('?filter=failed')).total, 0);
      await t.database.db.query(
        `UPDATE messages SET processing_status = 'failed' WHERE sender = $1`,
        [STRANGER],
      );
      assert.deepEqual(
        (await list('?filter=failed')).items.map((c) => c.number),
        [STRANGER],
      );

      await t.database.db.query('UPDATE users SET opted_out_at = now() WHERE phone_number = $1', [
        GRACE,
      ]);
      const optedOut = await list('?filter=opted_out');
      assert.deepEqual(
        optedOut.items.map((c) => c.number),
        [GRACE],
      );
      assert.equal(optedOut.items[0]?.opted_out, true);

      const bad = await t.app.inject({
        method: 'GET',
        url: '/conversations?filter=everything',
        headers: t.auth,
      });
      assert.equal(bad.statusCode, 400);
    });

    test('one conversation holds what was sent to the person, on any channel', async () => {
      const sent = await t.app.inject({
        method: 'POST',
        url: '/messages/send',
        headers: t.auth,
        payload: { to: ADA, body: 'Nice run!' },
      });
      assert.equal(sent.statusCode, 202, sent.body);
      const response = await t.app.inject({
        method: 'GET',
        url: `/conversations/${encodeURIComponent(ADA)}`,
        headers: t.auth,
      });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json<{ conversation: Conversation; outbound: { body: string }[] }>();
      assert.equal(body.conversation.username, 'Ada');
      assert.deepEqual(
        body.outbound.map((o) => o.body),
        ['Nice run!'],
      );
      assert.equal((await list()).items[0]?.number, ADA, 'the send is activity too');

      const unknown = await t.app.inject({
        method: 'GET',
        url: '/conversations/%2B15550199999',
        headers: t.auth,
      });
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.json<{ error: { code: string } }>().error.code, 'not_found');
      const malformed = await t.app.inject({
        method: 'GET',
        url: '/conversations/nope',
        headers: t.auth,
      });
      assert.equal(malformed.statusCode, 400);
    });
  });
}
