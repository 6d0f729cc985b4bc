import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findUserBySender } from '../src/db/users.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import { type ErrorBody, expectError } from './helpers/errors.js';

interface UserBody {
  id: number;
  created_at: string;
  username: string;
  phone_number: string | null;
  points: number;
  whatsapp_id: string | null;
  timezone: string | null;
  opted_out_at: string | null;
  opt_out_source: string | null;
}
interface PageBody {
  items: UserBody[];
  total: number;
  limit: number;
  offset: number;
}

const USER_FIELDS = [
  'created_at',
  'id',
  'opt_out_source',
  'opted_out_at',
  'pause',
  'phone_number',
  'points',
  'timezone',
  'username',
  'whatsapp_id',
  'zone_in_effect',
  'zone_source',
];

for (const engine of engines) {
  describe(`users API [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp(engine);
    });
    after(async () => t?.close());

    let nextPhone = 5550100000;
    /** A phone number no other test uses. */
    const freshPhone = () => `+1${(nextPhone += 1)}`;

    const request = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: t.auth, ...(payload ? { payload } : {}) });
    const createUser = async (payload: Record<string, unknown>): Promise<UserBody> => {
      const response = await request('POST', '/users', payload);
      assert.equal(response.statusCode, 201, response.body);
      return response.json() as UserBody;
    };

    test('POST /users creates a user with 0 points and answers 201 with the row', async () => {
      const phone = freshPhone();
      const response = await request('POST', '/users', {
        username: '  Ada Lovelace ',
        phone_number: phone,
      });
      assert.equal(response.statusCode, 201, response.body);
      const user = response.json() as UserBody;
      assert.deepEqual(Object.keys(user).sort(), USER_FIELDS);
      assert.equal(user.username, 'Ada Lovelace');
      assert.equal(user.phone_number, phone);
      assert.equal(user.points, 0);
      assert.equal(user.whatsapp_id, null);
      assert.equal(user.timezone, null);
      // Opted in until they send STOP (or Twilio answers 21610).
      assert.equal(user.opted_out_at, null);
      assert.equal(user.opt_out_source, null);
      assert.ok(Number.isInteger(user.id) && user.id > 0);
      assert.ok(Math.abs(Date.parse(user.created_at) - Date.now()) < 60_000, user.created_at);
    });

    test('a whatsapp: number with spaces and dashes is stored as E.164', async () => {
      const user = await createUser({
        username: 'Bob',
        phone_number: 'whatsapp:+1 555-020-0001',
      });
      assert.equal(user.phone_number, '+15550200001');
      const stored = await t.database.db.query<{ phone_number: string }>(
        'SELECT phone_number FROM users WHERE id = $1',
        [user.id],
      );
      assert.equal(stored[0]?.phone_number, '+15550200001');
    });

    test('whatsapp_id and timezone may be given at creation', async () => {
      const user = await createUser({
        username: 'Cy',
        phone_number: freshPhone(),
        whatsapp_id: 'whatsapp:US.13491208655302741918',
        timezone: 'Europe/Paris',
      });
      assert.equal(user.whatsapp_id, 'US.13491208655302741918');
      assert.equal(user.timezone, 'Europe/Paris');
    });

    test('a phone number already taken is a 409 conflict naming the number', async () => {
      const phone = freshPhone();
      const first = await createUser({ username: 'First', phone_number: phone });
      const duplicate = await request('POST', '/users', {
        username: 'Second',
        // the same number, written differently
        phone_number: `whatsapp:${phone.slice(0, 2)} ${phone.slice(2, 5)}-${phone.slice(5)}`,
      });
      expectError(duplicate, 409, 'conflict', new RegExp(`\\${phone}`));
      assert.match((duplicate.json() as ErrorBody).error.message, new RegExp(`user ${first.id}`));
    });

    test('invalid phone numbers are 400 validation_failed naming phone_number', async () => {
      for (const phone_number of [
        '12345',
        '5551234567',
        '+123456',
        '+1234567890123456',
        '+1555abc4567',
        '+0155512345',
        'whatsapp:',
        '',
      ]) {
        const response = await request('POST', '/users', { username: 'X', phone_number });
        expectError(response, 400, 'validation_failed', /phone_number/);
      }
      const missing = await request('POST', '/users', { username: 'X' });
      expectError(missing, 400, 'validation_failed', /phone_number/);
    });

    test('a blank or over-long username is 400 naming username', async () => {
      for (const username of ['', '   ', 'x'.repeat(101)]) {
        const response = await request('POST', '/users', {
          username,
          phone_number: freshPhone(),
        });
        expectError(response, 400, 'validation_failed', /username/);
      }
      const longest = await createUser({ username: 'y'.repeat(100), phone_number: freshPhone() });
      assert.equal(longest.username.length, 100);
    });

    test('an unknown timezone or a malformed whatsapp_id at creation is a 400 naming it', async () => {
      const timezone = await request('POST', '/users', {
        username: 'Tz',
        phone_number: freshPhone(),
        timezone: 'Mars/Olympus_Mons',
      });
      expectError(timezone, 400, 'validation_failed', /timezone.*IANA/);
      const whatsapp = await request('POST', '/users', {
        username: 'Wa',
        phone_number: freshPhone(),
        whatsapp_id: 'has space',
      });
      expectError(whatsapp, 400, 'validation_failed', /whatsapp_id/);
    });

    test('GET /users pages through every user once, in id order, 50 by default', async () => {
      for (let i = 0; i < 4; i += 1)
        await createUser({ username: `P${i}`, phone_number: freshPhone() });
      const [count] = await t.database.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM users',
      );
      const all = (await request('GET', '/users')).json() as PageBody;
      assert.equal(all.limit, 50);
      assert.equal(all.offset, 0);
      assert.equal(all.total, count?.n);
      const ids = all.items.map((u) => u.id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
      );
      assert.equal(ids.length, Math.min(50, all.total));

      const seen: number[] = [];
      for (let offset = 0; offset < all.total; offset += 3) {
        const page = (await request('GET', `/users?limit=3&offset=${offset}`)).json() as PageBody;
        assert.equal(page.limit, 3);
        assert.equal(page.offset, offset);
        assert.equal(page.total, all.total);
        seen.push(...page.items.map((u) => u.id));
      }
      assert.deepEqual(seen, ids);
    });

    test('GET /users with limit over 100 or a negative offset is 400 naming the parameter', async () => {
      expectError(await request('GET', '/users?limit=101'), 400, 'validation_failed', /limit/);
      expectError(await request('GET', '/users?offset=-1'), 400, 'validation_failed', /offset/);
    });

    test('GET /users/{id} answers the user, 404 with a message for an unknown id', async () => {
      const user = await createUser({ username: 'Dee', phone_number: freshPhone() });
      const found = await request('GET', `/users/${user.id}`);
      assert.equal(found.statusCode, 200);
      assert.deepEqual(found.json(), user);
      expectError(await request('GET', '/users/999999'), 404, 'not_found', /999999/);
      expectError(await request('GET', '/users/abc'), 400, 'validation_failed', /id/);
    });

    test('PATCH /users/{id} changes username, phone number, timezone and whatsapp_id', async () => {
      const user = await createUser({ username: 'Eve', phone_number: freshPhone() });
      const response = await request('PATCH', `/users/${user.id}`, {
        username: ' Eve Online ',
        phone_number: 'whatsapp:+44 7700 900123',
        timezone: 'America/New_York',
        whatsapp_id: 'whatsapp:GB.99887766',
      });
      assert.equal(response.statusCode, 200, response.body);
      const changed = response.json() as UserBody;
      assert.equal(changed.username, 'Eve Online');
      assert.equal(changed.phone_number, '+447700900123');
      assert.equal(changed.timezone, 'America/New_York');
      assert.equal(changed.whatsapp_id, 'GB.99887766');
      assert.equal(changed.created_at, user.created_at);
      assert.deepEqual((await request('GET', `/users/${user.id}`)).json(), changed);

      const cleared = await request('PATCH', `/users/${user.id}`, {
        timezone: null,
        whatsapp_id: null,
      });
      assert.equal(cleared.statusCode, 200, cleared.body);
      assert.equal((cleared.json() as UserBody).timezone, null);
      assert.equal((cleared.json() as UserBody).whatsapp_id, null);
      assert.equal((cleared.json() as UserBody).username, 'Eve Online');
    });

    test('PATCH with a taken phone number or whatsapp_id is a 409 and changes nothing', async () => {
      const holder = await createUser({
        username: 'Holder',
        phone_number: freshPhone(),
        whatsapp_id: 'US.111222333',
      });
      const other = await createUser({ username: 'Other', phone_number: freshPhone() });
      const phone = await request('PATCH', `/users/${other.id}`, {
        phone_number: holder.phone_number as string,
      });
      expectError(phone, 409, 'conflict', new RegExp(`\\${holder.phone_number}`));
      const whatsapp = await request('PATCH', `/users/${other.id}`, {
        whatsapp_id: 'US.111222333',
      });
      expectError(whatsapp, 409, 'conflict', /US\.111222333/);
      assert.deepEqual((await request('GET', `/users/${other.id}`)).json(), other);
    });

    test('PATCH with an empty body, bad values or an unknown id is answered 400 or 404', async () => {
      const user = await createUser({ username: 'Fay', phone_number: freshPhone() });
      expectError(
        await request('PATCH', `/users/${user.id}`, {}),
        400,
        'validation_failed',
        /Nothing to change/,
      );
      expectError(
        await request('PATCH', `/users/${user.id}`, { timezone: 'Not/AZone' }),
        400,
        'validation_failed',
        /timezone/,
      );
      expectError(
        await request('PATCH', `/users/${user.id}`, { timezone: '+01:00' }),
        400,
        'validation_failed',
        /timezone/,
      );
      expectError(
        await request('PATCH', `/users/${user.id}`, { phone_number: '555' }),
        400,
        'validation_failed',
        /phone_number/,
      );
      expectError(
        await request('PATCH', '/users/999999', { username: 'Ghost' }),
        404,
        'not_found',
        /999999/,
      );
      assert.deepEqual((await request('GET', `/users/${user.id}`)).json(), user);
    });

    test('findUserBySender matches a phone number or a WhatsApp id', async () => {
      const phone = freshPhone();
      const user = await createUser({
        username: 'Gil',
        phone_number: phone,
        whatsapp_id: 'US.424242',
      });
      assert.equal((await findUserBySender(t.database.db, phone))?.id, user.id);
      assert.equal((await findUserBySender(t.database.db, 'US.424242'))?.id, user.id);
      assert.equal(await findUserBySender(t.database.db, '+19999999999'), null);
      assert.equal(await findUserBySender(t.database.db, 'US.000'), null);
    });

    test('every users route answers 401 without the API token', async () => {
      const routes: ['GET' | 'POST' | 'PATCH', string][] = [
        ['POST', '/users'],
        ['GET', '/users'],
        ['GET', '/users/1'],
        ['PATCH', '/users/1'],
      ];
      for (const [method, url] of routes) {
        for (const headers of [{}, { authorization: 'Bearer wrong-token' }]) {
          const response = await t.app.inject({
            method,
            url,
            headers,
            ...(method === 'GET'
              ? {}
              : { payload: { username: 'Mallory', phone_number: freshPhone() } }),
          });
          expectError(response, 401, 'unauthorized', /API token/);
        }
      }
      const [count] = await t.database.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM users WHERE username = 'Mallory'",
      );
      assert.equal(count?.n, 0);
    });
  });
}
