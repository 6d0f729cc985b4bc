/**
 * Groups over WhatsApp, through signed webhooks and the fake Twilio: `join <code>` (an
 * unknown sender registered under their profile name, in that group only), a sender who
 * never joined lands in the default group, `new`/`habit … in <group>` or the only group or
 * the reply asks which, `group`, `invite` and `leave`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilio, startFakeTwilio } from './fakes/fake-twilio.js';
import { engines } from './helpers/databases.js';
import { serviceClient, startTestService, type TestService } from './helpers/service.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';
type Json = Record<string, unknown>;

for (const engine of engines) {
  describe(`groups over WhatsApp [${engine.name}]`, { skip: engine.skip }, () => {
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
    const base = 5550170000 + (process.pid % 1000) * 10;
    /** Sends `body` from `phone` and resolves to the reply it got. */
    const say = async (phone: string, body: string, profileName = 'Ben') => {
      const before = client.repliesTo(`whatsapp:${phone}`).length;
      const sid = await client.deliver(
        whatsAppParams({ from: phone, to: GROUP_NUMBER, body, profileName }),
      );
      await client.processed(sid);
      const replies = await waitFor(async () => {
        const all = client.repliesTo(`whatsapp:${phone}`);
        return all.length > before ? all : null;
      });
      assert.equal(replies.length, before + 1, 'one reply per message');
      return replies[before]?.params.Body ?? '';
    };
    const userByPhone = async (phone: string) =>
      (await client.allUsers()).find((user) => user.phone_number === phone);
    const membersOf = async (groupId: unknown) =>
      ((await client.api('GET', `/groups/${String(groupId)}`)).body.members as Json[]).map(
        (member) => member.username,
      );
    const groups = async () => (await client.api('GET', '/groups')).body.items as Json[];
    const tasksOf = async (userId: number) =>
      (await client.api('GET', `/tasks?user_id=${userId}`)).body.items as Json[];

    test('join by code registers an unknown sender in that group only; others land in the default group', async () => {
      const runners = await client.api('POST', '/groups', { name: 'Runners' });
      assert.equal(runners.status, 201);
      const code = runners.body.invite_code as string;
      const everyone = (await groups()).find((group) => group.is_default);
      assert.ok(everyone);

      const ben = `+1${base + 1}`;
      const joined = await say(ben, `join ${code.toLowerCase()}`, 'Ben');
      assert.match(joined, /^Welcome to Taskwire, Ben! 🎉 You joined Runners \(1 member\)/);
      assert.ok(await userByPhone(ben), 'registered under their profile name');
      assert.deepEqual(await membersOf(runners.body.id), ['Ben']);
      assert.ok(!(await membersOf(everyone.id)).includes('Ben'), 'not in the default group');

      const cy = `+1${base + 2}`;
      await say(cy, 'hello', 'Cy');
      assert.ok((await membersOf(everyone.id)).includes('Cy'), 'never joined: default group');
      // A code nobody has joins nothing: the default group, as for any other first message.
      const dee = `+1${base + 3}`;
      assert.match(await say(dee, 'join WRONG234', 'Dee'), /No group has the invite code WRONG234/);
      assert.ok((await membersOf(everyone.id)).includes('Dee'), 'a failed join: default group');

      assert.match(await say(ben, `join ${code}`), /already in Runners/);
      assert.match(await say(ben, 'join NOPE2345'), /No group has the invite code NOPE2345/);
      assert.match(await say(ben, 'join'), /send "join" and its invite code/);
      assert.deepEqual(await membersOf(runners.body.id), ['Ben'], 'still one member');

      // Ben's only group: his task goes there without naming it.
      const created = await say(ben, 'new Run 5k tomorrow 7am');
      assert.match(created, /Task 1: "Run 5k"/);
      const benId = (await userByPhone(ben))?.id as number;
      assert.deepEqual(
        (await tasksOf(benId)).map((task) => [task.description, task.group_id]),
        [['Run 5k', runners.body.id]],
      );
    });

    test('in several groups: new and habit name one with "in <group>", else the reply asks which', async () => {
      const all = await groups();
      const runners = all.find((group) => group.name === 'Runners') as Json;
      const everyone = all.find((group) => group.is_default) as Json;
      const ben = `+1${base + 1}`;
      assert.match(
        await say(ben, `join ${everyone.invite_code as string}`),
        /You joined Everyone .*"in Everyone"/,
      );
      const benId = (await userByPhone(ben))?.id as number;
      const before = (await tasksOf(benId)).length;

      const asked = await say(ben, 'new Read tomorrow 8am');
      assert.match(asked, /You are in 2 groups: Runners, Everyone\. Which one/);
      assert.match(asked, /"new Read tomorrow 8am in Runners"/);
      assert.equal((await tasksOf(benId)).length, before, 'nothing created');

      assert.match(await say(ben, 'new Read tomorrow 8am in everyone'), /"Read", due/);
      const read = (await tasksOf(benId)).find((task) => task.description === 'Read');
      assert.equal(read?.group_id, everyone.id);

      assert.match(await say(ben, 'habit Gym every day at 7am'), /Which one/);
      const habitReply = await say(ben, 'habit Gym every day at 7am in Runners');
      assert.doesNotMatch(habitReply, /Which one/);
      const habits = (await client.api('GET', `/habits?user_id=${benId}`)).body.items as Json[];
      assert.deepEqual(
        habits.map((habit) => habit.description),
        ['Gym'],
      );
      const { rows } = {
        rows: await t.service.db.query<{ group_id: number }>(
          'SELECT group_id FROM habits WHERE user_id = $1',
          [benId],
        ),
      };
      assert.deepEqual(
        rows.map((row) => Number(row.group_id)),
        [runners.id],
      );
      // Its occurrences are in the habit's group too.
      const occurrences = await t.service.db.query<{ group_id: number }>(
        'SELECT group_id FROM tasks WHERE user_id = $1 AND habit_id IS NOT NULL',
        [benId],
      );
      assert.ok(occurrences.every((task) => Number(task.group_id) === runners.id));
    });

    test('group lists codes and links, invite gives a message to forward, leave asks which', async () => {
      const all = await groups();
      const runners = all.find((group) => group.name === 'Runners') as Json;
      const ben = `+1${base + 1}`;
      const code = runners.invite_code as string;
      const link = `https://wa.me/14155238886?text=join%20${code}`;

      const mine = await say(ben, 'group');
      assert.match(mine, /^Your groups:\n1\. Runners: code [A-Z0-9]{8}, https:\/\/wa\.me\//);
      assert.ok(mine.includes(link), mine);
      assert.match(mine, /2\. Everyone: code/);

      const invite = await say(ben, 'invite runners');
      assert.match(invite, /Forward this to invite someone to Runners/);
      assert.ok(invite.includes(link), invite);
      assert.match(await say(ben, 'invite'), /1\. Runners: code .*\n2\. Everyone: code/);

      assert.match(await say(ben, 'leave'), /You are in 2 groups:\n1\. Runners\n2\. Everyone/);
      assert.match(await say(ben, 'leave Swimmers'), /no group called "Swimmers"/);
      assert.match(await say(ben, 'leave 1'), /You left Runners\./);
      assert.ok(!(await membersOf(runners.id)).includes('Ben'));
      assert.match(await say(ben, 'leave'), /You left Everyone\. You are in no group now/);
      assert.match(await say(ben, 'group'), /not in any group/);
    });
  });
}
