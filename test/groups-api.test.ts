/**
 * The groups admin API: groups with invite codes and join links, members and roles, the
 * group of a new user and of a task an admin gives, and one group's feed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';

type Json = Record<string, unknown>;
const NUMBER = '+14155238886';

for (const engine of engines) {
  describe(`groups API [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    let nextPhone = 5550160000;
    before(async () => {
      t = await createTestApp(engine, { senders: { whatsapp: NUMBER, sms: null } });
    });
    after(async () => t?.close());

    const api = async (method: string, url: string, payload?: unknown) => {
      const response = await t.app.inject({
        method: method as 'GET',
        url,
        headers: t.auth,
        ...(payload === undefined ? {} : { payload: payload as Json }),
      });
      return {
        status: response.statusCode,
        body: (response.body ? JSON.parse(response.body) : null) as Json,
      };
    };
    const newUser = async (extra: Json = {}) => {
      nextPhone += 1;
      const created = await api('POST', '/users', {
        username: `P${nextPhone}`,
        phone_number: `+1${nextPhone}`,
        ...extra,
      });
      return created;
    };
    const defaultGroup = async () => {
      const list = await api('GET', '/groups');
      const items = list.body.items as Json[];
      return items.find((group) => group.is_default === true) as Json;
    };
    const memberIds = async (groupId: unknown) =>
      ((await api('GET', `/groups/${String(groupId)}`)).body.members as Json[]).map((member) =>
        Number(member.user_id),
      );

    test('POST /groups answers an id, an invite code and the wa.me link that joins it', async () => {
      const created = await api('POST', '/groups', {
        name: '  Morning   Runners ',
        timezone: 'Europe/Paris',
        review: 'peer',
        share: 'digest',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const code = created.body.invite_code as string;
      assert.match(code, /^[A-HJKMNP-Z2-9]{8}$/);
      assert.equal(created.body.name, 'Morning Runners');
      assert.equal(created.body.review, 'peer');
      assert.equal(created.body.share, 'digest');
      assert.equal(created.body.is_default, false);
      assert.equal(created.body.join_url, `https://wa.me/14155238886?text=join%20${code}`);

      const one = await api('GET', `/groups/${created.body.id as number}`);
      assert.equal(one.status, 200);
      assert.deepEqual(one.body.members, []);
      const list = await api('GET', '/groups');
      const items = list.body.items as Json[];
      assert.equal(items[0]?.is_default, true, 'the default group first');
      assert.ok(items.some((group) => group.id === created.body.id));

      assert.equal((await api('POST', '/groups', { name: 'X', review: 'vote' })).status, 400);
      assert.equal((await api('POST', '/groups', { name: '   ' })).status, 400);
      assert.equal(
        (await api('POST', '/groups', { name: 'X', timezone: 'Mars/Base' })).status,
        400,
      );
      assert.equal((await api('GET', '/groups/999999')).status, 404);
    });

    test('PATCH /groups/{id} changes name, rules and time zone (null: back to TZ)', async () => {
      const created = await api('POST', '/groups', { name: 'Readers', timezone: 'Asia/Tokyo' });
      const id = created.body.id as number;
      const changed = await api('PATCH', `/groups/${id}`, {
        name: 'Book club',
        share: 'off',
        timezone: null,
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.equal(changed.body.name, 'Book club');
      assert.equal(changed.body.share, 'off');
      assert.equal(changed.body.timezone, null);
      assert.equal(changed.body.invite_code, created.body.invite_code);
      assert.equal((await api('PATCH', `/groups/${id}`, {})).status, 400);
      assert.equal((await api('PATCH', '/groups/999999', { name: 'Y' })).status, 404);
    });

    test('a user created by the API joins the default group, or the group given', async () => {
      const everyone = await defaultGroup();
      const plain = await newUser();
      assert.equal(plain.status, 201, JSON.stringify(plain.body));
      const club = await api('POST', '/groups', { name: 'Club' });
      const joined = await newUser({ group_id: club.body.id });
      assert.equal(joined.status, 201, JSON.stringify(joined.body));
      assert.ok((await memberIds(everyone.id)).includes(Number(plain.body.id)));
      assert.ok(!(await memberIds(everyone.id)).includes(Number(joined.body.id)));
      assert.deepEqual(await memberIds(club.body.id), [Number(joined.body.id)]);

      const unknown = await newUser({ group_id: 999999 });
      assert.equal(unknown.status, 422);
      const users = (await api('GET', '/users?limit=100')).body.items as Json[];
      assert.ok(
        !users.some((user) => user.phone_number === `+1${nextPhone}`),
        'no user without the group they were created for',
      );
    });

    test('members: added with a role, the role changed, removed once', async () => {
      const group = await api('POST', '/groups', { name: 'Climbers' });
      const id = group.body.id as number;
      const ada = await newUser();
      const ben = await newUser();
      const added = await api('POST', `/groups/${id}/members`, {
        user_id: ben.body.id,
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal(added.body.role, 'member');
      const admin = await api('POST', `/groups/${id}/members`, {
        user_id: ada.body.id,
        role: 'admin',
      });
      assert.equal(admin.status, 201);
      const again = await api('POST', `/groups/${id}/members`, { user_id: ben.body.id });
      assert.equal(again.status, 200, 'already a member');
      assert.equal(again.body.added, false);
      const promoted = await api('POST', `/groups/${id}/members`, {
        user_id: ben.body.id,
        role: 'admin',
      });
      assert.equal(promoted.body.role, 'admin');

      const members = (await api('GET', `/groups/${id}`)).body.members as Json[];
      assert.deepEqual(
        members.map((member) => [member.username, member.role]),
        // Admins first, then in joining order: Ben joined before Ada.
        [
          [ben.body.username, 'admin'],
          [ada.body.username, 'admin'],
        ],
      );
      const listed = ((await api('GET', '/groups')).body.items as Json[]).find(
        (item) => item.id === id,
      );
      assert.equal(listed?.member_count, 2);

      assert.equal((await api('POST', `/groups/${id}/members`, { user_id: 999999 })).status, 422);
      assert.equal(
        (await api('POST', '/groups/999999/members', { user_id: ada.body.id })).status,
        404,
      );
      const removed = await api('DELETE', `/groups/${id}/members/${ben.body.id as number}`);
      assert.equal(removed.status, 204);
      const twice = await api('DELETE', `/groups/${id}/members/${ben.body.id as number}`);
      assert.equal(twice.status, 404);
      assert.deepEqual(await memberIds(id), [Number(ada.body.id)]);
    });

    test("POST /tasks: the group given must be one of the user's, else their only group; several and none named is a 422", async () => {
      const due = new Date(Date.now() + 86_400_000).toISOString();
      const runners = await api('POST', '/groups', { name: 'Runners' });
      const other = await api('POST', '/groups', { name: 'Swimmers' });
      const ada = await newUser({ group_id: runners.body.id });
      const task = (group_id?: unknown) =>
        api('POST', '/tasks', {
          user_id: ada.body.id,
          description: 'Run 5k',
          due_time: due,
          notify: false,
          ...(group_id === undefined ? {} : { group_id }),
        });
      const inOnlyGroup = await task();
      assert.equal(inOnlyGroup.status, 201, JSON.stringify(inOnlyGroup.body));
      assert.equal(inOnlyGroup.body.group_id, runners.body.id);
      const notMine = await task(other.body.id);
      assert.equal(notMine.status, 422);
      assert.match((notMine.body.error as Json).message as string, /not in group/);
      assert.equal((await task(999999)).status, 422);

      await api('POST', `/groups/${other.body.id as number}/members`, { user_id: ada.body.id });
      const named = await task(other.body.id);
      assert.equal(named.status, 201);
      assert.equal(named.body.group_id, other.body.id);

      // In several groups and none named: which one must be said, as for POST /habits.
      const again = await task();
      assert.equal(again.status, 422, JSON.stringify(again.body));
      assert.equal((again.body.error as Json).code, 'unprocessable');
      assert.equal(
        (again.body.error as Json).message,
        `User ${String(ada.body.id)} is in 2 groups; say which this task belongs to with ` +
          `group_id, one of ${String(runners.body.id)} (Runners), ${String(other.body.id)} (Swimmers).`,
      );
    });

    test('GET /feed?group_id= lists one group’s posts; a post takes its task’s group', async () => {
      const due = new Date(Date.now() + 86_400_000).toISOString();
      const red = await api('POST', '/groups', { name: 'Red' });
      const blue = await api('POST', '/groups', { name: 'Blue' });
      const ada = await newUser({ group_id: red.body.id });
      await api('POST', `/groups/${blue.body.id as number}/members`, { user_id: ada.body.id });
      const post = async (groupId: unknown, what: string) => {
        const task = await api('POST', '/tasks', {
          user_id: ada.body.id,
          description: what,
          due_time: due,
          group_id: groupId,
          notify: false,
        });
        // The proof's post as the accountability loop inserts it: without a group of its own.
        await t.database.db.query(
          `INSERT INTO feed (user_id, task_id, image_url, post_content, status)
           VALUES ($1, $2, NULL, $3, 'published')`,
          [ada.body.id, task.body.id, what],
        );
      };
      await post(red.body.id, 'red one');
      await post(blue.body.id, 'blue one');
      await post(red.body.id, 'red two');
      const feedOf = async (groupId: unknown) => {
        const page = await api('GET', `/feed?group_id=${String(groupId)}`);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        return {
          total: page.body.total,
          posts: (page.body.items as Json[]).map((item) => [item.post_content, item.group_id]),
        };
      };
      assert.deepEqual(await feedOf(red.body.id), {
        total: 2,
        posts: [
          ['red two', red.body.id],
          ['red one', red.body.id],
        ],
      });
      assert.deepEqual(await feedOf(blue.body.id), {
        total: 1,
        posts: [['blue one', blue.body.id]],
      });
      const both = await api(
        'GET',
        `/feed?group_id=${red.body.id as number}&user_id=${ada.body.id as number}`,
      );
      assert.equal(both.body.total, 2);
    });
  });
}
