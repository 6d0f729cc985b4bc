import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createUser,
  findSenderRecordingInbound,
  findUserById,
  findUserBySender,
} from '../src/db/users.js';
import { type TestDatabase, engines } from './helpers/databases.js';

// findSenderRecordingInbound: the inbound path's sender lookup and last_inbound_at update
// in one statement. It must find the same user findUserBySender finds, record the time as
// recordInbound does (never moving it backwards), and return the row in the same shape.

let phoneSeq = 0;
const newPhone = () =>
  `+1555${String(process.pid % 1000).padStart(3, '0')}${String((phoneSeq += 1)).padStart(4, '0')}`;

for (const engine of engines) {
  describe(`findSenderRecordingInbound [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await engine.create();
    });
    after(async () => {
      await t?.destroy();
    });

    test('finds the sender, records the time and returns the updated row', async () => {
      const user = await createUser(t.db, { username: 'ana', phone_number: newPhone() });
      const at = new Date('2026-11-30T10:00:00.000Z');
      const found = await findSenderRecordingInbound(t.db, user.phone_number ?? '', {
        at,
        channel: 'whatsapp',
      });
      assert.ok(found);
      // Ids are numbers on both engines, as every other users.ts query returns them.
      assert.equal(typeof found.id, 'number');
      assert.equal(found.id, user.id);
      assert.equal(typeof found.points, 'number');
      assert.deepEqual(found.last_inbound_at, at);
      assert.deepEqual(found.last_whatsapp_inbound_at, at);
      // The same columns, types and values a plain lookup now returns.
      assert.deepEqual(found, await findUserById(t.db, user.id));
    });

    test('an SMS leaves the WhatsApp window alone; an older time moves nothing', async () => {
      const user = await createUser(t.db, { username: 'bo', phone_number: newPhone() });
      const phone = user.phone_number ?? '';
      const first = new Date('2026-11-30T10:00:00.000Z');
      const sms = new Date('2026-11-30T11:00:00.000Z');
      await findSenderRecordingInbound(t.db, phone, { at: first, channel: 'whatsapp' });
      const afterSms = await findSenderRecordingInbound(t.db, phone, { at: sms, channel: 'sms' });
      assert.deepEqual(afterSms?.last_inbound_at, sms);
      assert.deepEqual(afterSms?.last_whatsapp_inbound_at, first);
      const older = await findSenderRecordingInbound(t.db, phone, {
        at: new Date('2026-11-29T00:00:00.000Z'),
        channel: 'whatsapp',
      });
      assert.deepEqual(older?.last_inbound_at, sms);
      assert.deepEqual(older?.last_whatsapp_inbound_at, first);
    });

    test("one user's WhatsApp id equal to another's phone number: the phone number wins", async () => {
      const phone = newPhone();
      const holder = await createUser(t.db, { username: 'cy', phone_number: phone });
      const other = await createUser(t.db, {
        username: 'di',
        phone_number: newPhone(),
        whatsapp_id: phone,
      });
      const found = await findSenderRecordingInbound(t.db, phone, {
        at: new Date('2026-11-30T12:00:00.000Z'),
        channel: 'whatsapp',
      });
      assert.equal(found?.id, (await findUserBySender(t.db, phone))?.id);
      assert.equal(found?.id, holder.id);
      // Only the user found was written to.
      assert.equal((await findUserById(t.db, other.id))?.last_inbound_at, null);
    });

    test('an unknown sender: null, and no user written to', async () => {
      const user = await createUser(t.db, { username: 'ed', phone_number: newPhone() });
      const found = await findSenderRecordingInbound(t.db, '+15550000000', {
        at: new Date('2026-11-30T12:00:00.000Z'),
        channel: 'sms',
      });
      assert.equal(found, null);
      assert.equal((await findUserById(t.db, user.id))?.last_inbound_at, null);
    });
  });
}
