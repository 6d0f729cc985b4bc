import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import { storeMessages } from './helpers/worker.js';

// DELETE /users/{id}: the admin inbox's "delete this person" removes them and their data.

for (const engine of engines) {
  describe(`DELETE /users/{id} (${engine.name})`, { skip: engine.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp(engine);
    });
    after(() => t?.close());

    test('the person, their messages and their conversation are gone; a second delete is 404', async () => {
      const created = await t.app.inject({
        method: 'POST',
        url: '/users',
        headers: t.auth,
        payload: { username: 'Ada', phone_number: '+15550210001' },
      });
      assert.equal(created.statusCode, 201, created.body);
      const { id } = created.json<{ id: number }>();
      await storeMessages(t.database.db, [{ from: '+15550210001', body: 'hello' }]);

      const deleted = await t.app.inject({
        method: 'DELETE',
        url: `/users/${id}`,
        headers: t.auth,
      });
      assert.equal(deleted.statusCode, 200, deleted.body);
      assert.equal(deleted.json<{ deleted: boolean }>().deleted, true);

      const gone = await t.app.inject({ method: 'GET', url: `/users/${id}`, headers: t.auth });
      assert.equal(gone.statusCode, 404);
      const inbox = await t.app.inject({ method: 'GET', url: '/conversations', headers: t.auth });
      assert.deepEqual(
        inbox.json<{ items: { number: string }[] }>().items.map((c) => c.number),
        [],
        'no conversation left with their number',
      );
      const again = await t.app.inject({ method: 'DELETE', url: `/users/${id}`, headers: t.auth });
      assert.equal(again.statusCode, 404);
      assert.equal(again.json<{ error: { code: string } }>().error.code, 'not_found');
    });
  });
}
