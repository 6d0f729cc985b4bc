import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { insertFeedPost } from '../src/db/feed.js';
import { findTaskById } from '../src/db/tasks.js';
import { findUserById } from '../src/db/users.js';
import type { UserRow } from '../src/domain/user.js';
import type { CommandContext } from '../src/services/commands/command.js';
import { linkCommand, logoutCommand } from '../src/services/commands/sign-in.js';
import { shareProof } from '../src/services/group-news.js';
import { createLogger } from '../src/start/logger.js';
import { MemoryBlobStore } from './fakes/memory-blob-store.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';

/**
 * Issue 17, item 1 and 2: the magic link, the session cookie and the participant API. A
 * participant reads only their own rows and what their groups share.
 */

const WHATSAPP_SENDER = '+15550001111';
const START = new Date('2026-03-02T09:00:00Z');

interface World {
  t: TestApp;
  store: MemoryBlobStore;
  clock: { now: Date };
  alice: number;
  bob: number;
  carol: number;
  groupA: number;
  groupB: number;
}

async function createUser(t: TestApp, username: string, phone: string): Promise<number> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/users',
    headers: t.auth,
    payload: { username, phone_number: phone },
  });
  assert.equal(response.statusCode, 201, response.body);
  return (response.json() as { id: number }).id;
}

async function putPhoto(store: MemoryBlobStore, key: string, bytes: string): Promise<void> {
  await store.put(key, Readable.from([Buffer.from(bytes)]), { contentType: 'image/jpeg' });
}

/** Alice and Bob in group A, Carol alone in group B; one photo post each. */
async function buildWorld(engine: (typeof engines)[number], logLines?: string[]): Promise<World> {
  const store = new MemoryBlobStore();
  const clock = { now: START };
  const t = await createTestApp(engine, {
    ...(logLines ? { logger: captureLogger(logLines) } : {}),
    store,
    clock: () => clock.now,
    senders: { whatsapp: WHATSAPP_SENDER, sms: null },
    trustProxy: ['127.0.0.1'],
  });
  const db = t.database.db;
  const alice = await createUser(t, 'Alice', '+15551230001');
  const bob = await createUser(t, 'Bob', '+15551230002');
  const carol = await createUser(t, 'Carol', '+15551230003');
  await db.query('DELETE FROM group_members');
  const [a] = await db.query<{ id: number }>(
    `INSERT INTO groups (name, invite_code) VALUES ('Runners', 'RUNA') RETURNING id`,
  );
  const [b] = await db.query<{ id: number }>(
    `INSERT INTO groups (name, invite_code) VALUES ('Readers', 'READB') RETURNING id`,
  );
  const groupA = Number(a?.id);
  const groupB = Number(b?.id);
  await db.query(
    `INSERT INTO group_members (group_id, user_id) VALUES ($1, $2), ($1, $3), ($4, $5)`,
    [groupA, alice, bob, groupB, carol],
  );
  for (const [user, group, key, text] of [
    [alice, groupA, 'messages/MMalice/0.jpg', 'alice ran'],
    [bob, groupA, 'messages/MMbob/0.jpg', 'bob ran'],
    [carol, groupB, 'messages/MMcarol/0.jpg', 'carol read'],
  ] as const) {
    await putPhoto(store, key, `photo of ${text}`);
    const post = await insertFeedPost(db, {
      user_id: user,
      task_id: null,
      image_url: null,
      image_key: key,
      post_content: text,
      message_id: null,
    });
    await db.query('UPDATE feed SET group_id = $2 WHERE id = $1', [post?.id, group]);
  }
  return { t, store, clock, alice, bob, carol, groupA, groupB };
}

function captureLogger(lines: string[]) {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return createLogger('debug', stream);
}

/** The admin's "send sign-in link"; resolves to the token the person received. */
async function sendLink(w: World, userId: number): Promise<{ url: string; token: string }> {
  const response = await w.t.app.inject({
    method: 'POST',
    url: `/users/${userId}/sign-in-link`,
    headers: w.t.auth,
  });
  assert.equal(response.statusCode, 202, response.body);
  const body = response.json() as { outbound_message_id: number; channel: string };
  assert.equal(body.channel, 'whatsapp');
  assert.ok(!response.body.includes('token'), 'the admin never sees the token');
  const [row] = await w.t.database.db.query<{ body: string; to_number: string }>(
    'SELECT body, to_number FROM outbound_messages WHERE id = $1',
    [body.outbound_message_id],
  );
  const match = /(http\S+\/app\/sign-in\?token=(\S+))/.exec(row?.body ?? '');
  assert.ok(match, row?.body);
  return { url: match[1] as string, token: decodeURIComponent(match[2] as string) };
}

/** Exchanges a link for a session; resolves to the Cookie header to send. */
async function signIn(w: World, userId: number): Promise<string> {
  const { token } = await sendLink(w, userId);
  const response = await w.t.app.inject({
    method: 'POST',
    url: `/app/sign-in?token=${encodeURIComponent(token)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: '',
  });
  assert.equal(response.statusCode, 303, response.body);
  const cookie = String(response.headers['set-cookie']).split(';')[0] as string;
  return cookie;
}

for (const engine of engines) {
  describe(`participant app [${engine.name}]`, { skip: engine.skip }, () => {
    let w: World;
    before(async () => {
      w = await buildWorld(engine);
    });
    after(async () => {
      await w?.t.close();
    });

    test('GET on the link consumes nothing; POST sets the session cookie once', async () => {
      const { url, token } = await sendLink(w, w.alice);
      const path = url.slice(url.indexOf('/app/'));
      for (let i = 0; i < 2; i += 1) {
        const page = await w.t.app.inject({ method: 'GET', url: path });
        assert.equal(page.statusCode, 200);
        assert.match(page.body, /<form method="post">/);
        assert.match(page.body, /Continue/);
        assert.equal(page.headers['set-cookie'], undefined);
      }
      const post = await w.t.app.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: '',
      });
      assert.equal(post.statusCode, 303);
      assert.equal(post.headers.location, '/app/');
      const cookie = String(post.headers['set-cookie']);
      assert.match(
        cookie,
        /^taskwire_session=[^;]+; Path=\/app; HttpOnly; SameSite=Lax; Max-Age=2592000/,
      );
      assert.doesNotMatch(cookie, /Secure/, 'plain http: no Secure attribute');

      const again = await w.t.app.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: '',
      });
      assert.equal(again.statusCode, 410, 'single use');
      assert.equal(again.headers['set-cookie'], undefined);
      const reopened = await w.t.app.inject({ method: 'GET', url: path });
      assert.equal(reopened.statusCode, 410);

      // Nothing in the database replays it: the verifier is stored hashed and the
      // outbound message that carried the link no longer holds it.
      const verifier = token.split('.')[1] as string;
      const dump = await w.t.database.db.query<{ text: string }>(
        `SELECT (SELECT string_agg(body, ' ') FROM outbound_messages)
                || (SELECT string_agg(selector || encode(verifier_hash, 'escape'), ' ') FROM sign_in_tokens)
                || (SELECT string_agg(selector || encode(verifier_hash, 'escape'), ' ') FROM sessions) AS text`,
      );
      assert.ok(!dump[0]?.text.includes(verifier));
      const session = decodeURIComponent(cookie.split(';')[0]?.split('=')[1] ?? '');
      assert.ok(!dump[0]?.text.includes(session.split('.')[1] as string));
    });

    test('a link expires after 15 minutes; a forged verifier does not sign in', async () => {
      const { token } = await sendLink(w, w.alice);
      const [selector] = token.split('.');
      const forged = await w.t.app.inject({
        method: 'POST',
        url: `/app/sign-in?token=${selector}.${'A'.repeat(43)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: '',
      });
      assert.equal(forged.statusCode, 410);
      w.clock.now = new Date(START.getTime() + 16 * 60_000);
      try {
        const late = await w.t.app.inject({
          method: 'POST',
          url: `/app/sign-in?token=${encodeURIComponent(token)}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: '',
        });
        assert.equal(late.statusCode, 410);
      } finally {
        w.clock.now = START;
      }
    });

    test('behind an https proxy the cookie is Secure', async () => {
      const { token } = await sendLink(w, w.bob);
      const post = await w.t.app.inject({
        method: 'POST',
        url: `/app/sign-in?token=${encodeURIComponent(token)}`,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-proto': 'https',
        },
        payload: '',
      });
      assert.equal(post.statusCode, 303);
      assert.match(String(post.headers['set-cookie']), /; Secure$/);
    });

    test('the session reads only my data; admin routes and other groups are refused', async () => {
      const cookie = await signIn(w, w.alice);
      const get = (url: string, headers: Record<string, string> = { cookie }) =>
        w.t.app.inject({ method: 'GET', url, headers });

      assert.equal((await get('/app/api/me', {})).statusCode, 401, 'no cookie');
      assert.equal(
        (await get('/app/api/me', w.t.auth)).statusCode,
        401,
        'the API token is no session',
      );
      assert.equal((await get('/users')).statusCode, 401, 'a session is no API token');
      assert.equal((await get(`/users/${w.alice}`)).statusCode, 401);

      const me = (await get('/app/api/me')).json() as {
        username: string;
        groups: { id: number }[];
      };
      assert.equal(me.username, 'Alice');
      assert.deepEqual(
        me.groups.map((group) => group.id),
        [w.groupA],
      );

      const feed = (await get('/app/api/feed')).json() as {
        items: { username: string; image_url: string }[];
      };
      assert.deepEqual(feed.items.map((item) => item.username).sort(), ['Alice', 'Bob']);
      assert.equal((await get(`/app/api/feed?group_id=${w.groupA}`)).statusCode, 200);
      const other = await get(`/app/api/feed?group_id=${w.groupB}`);
      assert.equal(other.statusCode, 403);
      assert.equal((other.json() as { error: { code: string } }).error.code, 'forbidden');

      const bobsPhoto = feed.items.find((item) => item.username === 'Bob')?.image_url ?? '';
      const photo = await get(bobsPhoto);
      assert.equal(photo.statusCode, 200);
      assert.equal(photo.body, 'photo of bob ran');
      const carols = await get(
        `/app/api/photo?key=${encodeURIComponent('messages/MMcarol/0.jpg')}`,
      );
      assert.equal(carols.statusCode, 404, "another group's photo key");
      assert.equal(
        (await get(`/app/api/photo?key=${encodeURIComponent('messages/MMnone/0.jpg')}`)).statusCode,
        404,
      );

      const boards = (await get('/app/api/leaderboards?period=all')).json() as {
        groups: { group_id: number }[];
      };
      assert.deepEqual(
        boards.groups.map((group) => group.group_id),
        [w.groupA],
      );
    });

    test('Today adds a task with the WhatsApp phrase; logout revokes the session', async () => {
      const cookie = await signIn(w, w.bob);
      const added = await w.t.app.inject({
        method: 'POST',
        url: '/app/api/phrases',
        headers: { cookie },
        payload: { text: 'new Run 5k tomorrow 7am' },
      });
      assert.equal(added.statusCode, 200, added.body);
      assert.match((added.json() as { reply: string }).reply, /Run 5k/);
      const today = (
        await w.t.app.inject({ method: 'GET', url: '/app/api/today', headers: { cookie } })
      ).json() as { tasks: { description: string }[] };
      assert.deepEqual(
        today.tasks.map((task) => task.description),
        ['Run 5k'],
      );
      const refused = await w.t.app.inject({
        method: 'POST',
        url: '/app/api/phrases',
        headers: { cookie },
        payload: { text: 'points' },
      });
      assert.equal(refused.statusCode, 400);

      const out = await w.t.app.inject({ method: 'POST', url: '/app/logout', headers: { cookie } });
      assert.equal(out.statusCode, 204);
      assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
      const after = await w.t.app.inject({
        method: 'GET',
        url: '/app/api/me',
        headers: { cookie },
      });
      assert.equal(after.statusCode, 401);
    });

    test('Me: time zone and pause by phrase, opt-out and back, leave a group', async () => {
      const cookie = await signIn(w, w.carol);
      const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
        w.t.app.inject({ method, url, headers: { cookie }, ...(payload ? { payload } : {}) });
      assert.equal(
        (await call('POST', '/app/api/phrases', { text: 'tz Europe/Paris' })).statusCode,
        200,
      );
      const paused = await call('POST', '/app/api/phrases', { text: 'pause 1 day' });
      assert.equal(paused.statusCode, 200, paused.body);
      let me = (await call('GET', '/app/api/me')).json() as {
        timezone: string;
        pause: unknown;
        opted_out: boolean;
        groups: { id: number }[];
      };
      assert.equal(me.timezone, 'Europe/Paris');
      assert.notEqual(me.pause, null, (paused.json() as { reply: string }).reply);
      await call('POST', '/app/api/phrases', { text: 'resume' });
      me = (await call('PATCH', '/app/api/me', { opted_out: true })).json() as typeof me;
      assert.equal(me.opted_out, true);
      me = (await call('PATCH', '/app/api/me', { opted_out: false })).json() as typeof me;
      assert.equal(me.opted_out, false);
      assert.equal((await call('POST', `/app/api/groups/${w.groupA}/leave`)).statusCode, 404);
      me = (await call('POST', `/app/api/groups/${w.groupB}/leave`)).json() as typeof me;
      assert.deepEqual(me.groups, []);
      assert.equal((await call('GET', `/app/api/feed?group_id=${w.groupB}`)).statusCode, 403);
      await w.t.database.db.query('INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)', [
        w.groupB,
        w.carol,
      ]);
      assert.equal((await call('POST', '/app/logout')).statusCode, 204);
    });

    test('the link and logout commands over WhatsApp', async () => {
      const db = w.t.database.db;
      const [user] = await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [w.carol]);
      const context = {
        tx: db,
        user,
        now: START,
        appBaseUrl: 'https://taskwire.example',
      } as unknown as CommandContext;
      const reply = await linkCommand.run(context, '');
      const match = /https:\/\/taskwire\.example\/app\/sign-in\?token=(\S+)/.exec(reply);
      assert.ok(match, reply);
      const post = await w.t.app.inject({
        method: 'POST',
        url: `/app/sign-in?token=${match[1]}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: '',
      });
      assert.equal(post.statusCode, 303);
      const cookie = String(post.headers['set-cookie']).split(';')[0] as string;
      const me = await w.t.app.inject({ method: 'GET', url: '/app/api/me', headers: { cookie } });
      assert.equal((me.json() as { username: string }).username, 'Carol');
      assert.match(await logoutCommand.run(context, ''), /Signed out .* 1 device/);
      const after = await w.t.app.inject({
        method: 'GET',
        url: '/app/api/me',
        headers: { cookie },
      });
      assert.equal(after.statusCode, 401);
    });

    test('Reviews: a proof of my group waits for me; I approve it; another group cannot', async () => {
      const db = w.t.database.db;
      const [task] = await db.query<{ id: number }>(
        `INSERT INTO tasks (user_id, description, due_time, status, group_id)
         VALUES ($1, 'Swim 1 km', $2, 'pending_review', $3) RETURNING id`,
        [w.bob, new Date(START.getTime() + 3600_000), w.groupA],
      );
      await putPhoto(w.store, 'messages/MMswim/0.jpg', 'photo of bob swimming');
      const post = await insertFeedPost(db, {
        user_id: w.bob,
        task_id: Number(task?.id),
        image_url: null,
        image_key: 'messages/MMswim/0.jpg',
        post_content: null,
        message_id: null,
        status: 'pending_review',
      });
      await db.query('UPDATE feed SET group_id = $2 WHERE id = $1', [post?.id, w.groupA]);
      const [review] = await db.query<{ id: number }>(
        `INSERT INTO proof_reviews (feed_id, task_id, user_id, group_id, owner_address,
                                    from_number, image_key, method, timeout_at)
         VALUES ($1, $2, $3, $4, 'whatsapp:+15551230002', 'whatsapp:+15550001111',
                 'messages/MMswim/0.jpg', 'peer', $5) RETURNING id`,
        [post?.id, task?.id, w.bob, w.groupA, new Date(START.getTime() + 12 * 3600_000)],
      );
      const reviewId = Number(review?.id);

      // Carol (the other group) neither sees it nor may decide it, nor see its photo.
      const carol = await signIn(w, w.carol);
      const carolsList = await w.t.app.inject({
        method: 'GET',
        url: '/app/api/reviews',
        headers: { cookie: carol },
      });
      assert.deepEqual((carolsList.json() as { items: unknown[] }).items, []);
      const carolVotes = await w.t.app.inject({
        method: 'POST',
        url: `/app/api/reviews/${reviewId}`,
        headers: { cookie: carol },
        payload: { approve: true },
      });
      assert.equal(carolVotes.statusCode, 404);
      const carolPhoto = await w.t.app.inject({
        method: 'GET',
        url: `/app/api/photo?key=${encodeURIComponent('messages/MMswim/0.jpg')}`,
        headers: { cookie: carol },
      });
      assert.equal(carolPhoto.statusCode, 404);

      // Bob's own proof is not his to approve.
      const bob = await signIn(w, w.bob);
      const own = await w.t.app.inject({
        method: 'POST',
        url: `/app/api/reviews/${reviewId}`,
        headers: { cookie: bob },
        payload: { approve: true },
      });
      assert.equal(own.statusCode, 404);

      const alice = await signIn(w, w.alice);
      const list = (
        await w.t.app.inject({ method: 'GET', url: '/app/api/reviews', headers: { cookie: alice } })
      ).json() as { items: { id: number; username: string; what: string; image_url: string }[] };
      assert.deepEqual(
        list.items.map((item) => [item.id, item.username, item.what]),
        [[reviewId, 'Bob', 'Swim 1 km']],
      );
      const shown = await w.t.app.inject({
        method: 'GET',
        url: list.items[0]?.image_url ?? '',
        headers: { cookie: alice },
      });
      assert.equal(shown.body, 'photo of bob swimming');
      const noReason = await w.t.app.inject({
        method: 'POST',
        url: `/app/api/reviews/${reviewId}`,
        headers: { cookie: alice },
        payload: { approve: false },
      });
      assert.equal(noReason.statusCode, 400);
      const approved = await w.t.app.inject({
        method: 'POST',
        url: `/app/api/reviews/${reviewId}`,
        headers: { cookie: alice },
        payload: { approve: true },
      });
      assert.equal(approved.statusCode, 200, approved.body);
      const [decided] = await db.query<{ status: string; decided_by_user_id: number }>(
        'SELECT status, decided_by_user_id FROM proof_reviews WHERE id = $1',
        [reviewId],
      );
      assert.equal(decided?.status, 'approved');
      assert.equal(Number(decided?.decided_by_user_id), w.alice);
      const [done] = await db.query<{ status: string }>('SELECT status FROM tasks WHERE id = $1', [
        task?.id,
      ]);
      assert.equal(done?.status, 'completed');
    });

    test('the live stream carries my groups’ events only, and needs a session', async () => {
      await w.t.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (w.t.app.server.address() as AddressInfo).port;
      const cookie = await signIn(w, w.bob);
      const refused = await fetch(`http://127.0.0.1:${port}/app/api/events`);
      assert.equal(refused.status, 401);
      await refused.body?.cancel();

      const controller = new AbortController();
      const response = await fetch(`http://127.0.0.1:${port}/app/api/events`, {
        headers: { cookie },
        signal: controller.signal,
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      try {
        // Carol's group first, then Bob's: only the second may arrive.
        for (const [user, group, text] of [
          [w.carol, w.groupB, 'carol again'],
          [w.alice, w.groupA, 'alice again'],
        ] as const) {
          const post = await insertFeedPost(w.t.database.db, {
            user_id: user,
            task_id: null,
            image_url: null,
            post_content: text,
            message_id: null,
          });
          await w.t.database.db.query('UPDATE feed SET group_id = $2 WHERE id = $1', [
            post?.id,
            group,
          ]);
        }
        let buffered = '';
        interface Frame {
          kind: string;
          group_id: number | null;
          user_id: number | null;
        }
        let first = null as Frame | null;
        while (!first) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += new TextDecoder().decode(value);
          const frame = /event: (post)\ndata: (.+)\n/.exec(buffered);
          if (frame) first = JSON.parse(frame[2] as string) as Frame;
        }
        assert.equal(first?.group_id, w.groupA);
        assert.equal(first?.user_id, w.alice);
      } finally {
        controller.abort();
        await reader.cancel().catch(() => {});
      }
    });

    test('Me: with sharing off my proofs reach nobody in my group, in news or the feed', async () => {
      const db = w.t.database.db;
      const bobs = await signIn(w, w.bob);
      const alices = await signIn(w, w.alice);
      const as = (cookie: string, method: 'GET' | 'PATCH', url: string, payload?: object) =>
        w.t.app.inject({ method, url, headers: { cookie }, ...(payload ? { payload } : {}) });
      const feedOf = async (cookie: string) =>
        ((await as(cookie, 'GET', '/app/api/feed')).json() as { items: { what: string }[] }).items
          .map((item) => item.what)
          .sort();
      /** A new proof of Bob's in group A, shared as the proof's processing shares it. */
      const bobProves = async (description: string) => {
        const [task] = await db.query<{ id: number }>(
          `INSERT INTO tasks (user_id, description, due_time, status, group_id)
           VALUES ($1, $2, $3, 'completed', $4) RETURNING id`,
          [w.bob, description, START, w.groupA],
        );
        const post = await insertFeedPost(db, {
          user_id: w.bob,
          task_id: Number(task?.id),
          image_url: null,
          image_key: null,
          post_content: description,
          message_id: null,
        });
        await db.query('UPDATE feed SET group_id = $2 WHERE id = $1', [post?.id, w.groupA]);
        const author = await findUserById(db, w.bob);
        const row = await findTaskById(db, Number(task?.id));
        assert.ok(author && row);
        await shareProof(
          db,
          {
            feedId: Number(post?.id),
            author,
            task: row,
            imageKey: null,
            receivedOn: `whatsapp:${WHATSAPP_SENDER}`,
          },
          { defaultTimezone: 'UTC', whatsappNumber: WHATSAPP_SENDER },
          START,
        );
        return db.query<{ user_id: number }>('SELECT user_id FROM shares WHERE feed_id = $1', [
          post?.id,
        ]);
      };

      let me = (await as(bobs, 'GET', '/app/api/me')).json() as { share_proofs: boolean };
      assert.equal(me.share_proofs, true, 'everyone shares until they turn it off');
      assert.equal((await as(bobs, 'PATCH', '/app/api/me', {})).statusCode, 400);
      me = (await as(bobs, 'PATCH', '/app/api/me', { share_proofs: false })).json() as typeof me;
      assert.equal(me.share_proofs, false);
      try {
        assert.deepEqual(await bobProves('Swim 1 km'), [], 'nobody is told of the proof');
        const alicesFeed = await feedOf(alices);
        assert.ok(
          !alicesFeed.includes('bob ran') && !alicesFeed.includes('Swim 1 km'),
          `${alicesFeed}`,
        );
        assert.ok(alicesFeed.includes('alice ran'));
        const photo = await as(alices, 'GET', '/app/api/photo?key=messages%2FMMbob%2F0.jpg');
        assert.equal(photo.statusCode, 404, 'nor is his photo hers to open');
        assert.ok((await feedOf(bobs)).includes('Swim 1 km'), 'he still sees his own');
      } finally {
        me = (await as(bobs, 'PATCH', '/app/api/me', { share_proofs: true })).json() as typeof me;
      }
      assert.equal(me.share_proofs, true);
      const told = await bobProves('Swim 2 km');
      assert.deepEqual(
        told.map((row) => Number(row.user_id)),
        [w.alice],
        'sharing on: Alice hears of it',
      );
      assert.ok((await feedOf(alices)).includes('bob ran'));
      const photo = await as(alices, 'GET', '/app/api/photo?key=messages%2FMMbob%2F0.jpg');
      assert.equal(photo.statusCode, 200);
    });

    test('export my data, then delete my account: rows and photos gone, a goodbye sent', async () => {
      const cookie = await signIn(w, w.alice);
      await w.t.app.inject({
        method: 'POST',
        url: '/app/api/phrases',
        headers: { cookie },
        payload: { text: 'new Stretch tomorrow 8am' },
      });
      const exported = await w.t.app.inject({
        method: 'GET',
        url: '/app/api/export',
        headers: { cookie },
      });
      assert.equal(exported.statusCode, 200);
      const data = exported.json() as {
        user: { username: string };
        messages: { body: string }[];
        tasks: { description: string }[];
        posts: { photo: string }[];
      };
      assert.equal(data.user.username, 'Alice');
      assert.ok(data.messages.some((message) => message.body === 'new Stretch tomorrow 8am'));
      assert.deepEqual(
        data.tasks.map((task) => task.description),
        ['Stretch'],
      );
      assert.match(data.posts[0]?.photo ?? '', /\/app\/api\/photo\?key=messages%2FMMalice/);
      assert.ok(!exported.body.includes('Bob') && !exported.body.includes('Carol'));

      const deleted = await w.t.app.inject({
        method: 'DELETE',
        url: '/app/api/me',
        headers: { cookie },
      });
      assert.equal(deleted.statusCode, 200, deleted.body);
      const db = w.t.database.db;
      assert.equal((await db.query('SELECT 1 FROM users WHERE id = $1', [w.alice])).length, 0);
      assert.equal((await db.query('SELECT 1 FROM feed WHERE user_id = $1', [w.alice])).length, 0);
      assert.equal(
        (await db.query(`SELECT 1 FROM messages WHERE sender = '+15551230001'`)).length,
        0,
      );
      assert.equal(w.store.objects.has('messages/MMalice/0.jpg'), false);
      assert.equal(w.store.objects.has('messages/MMbob/0.jpg'), true, "Bob's photo stays");
      const goodbye = await db.query<{ body: string; user_id: number | null }>(
        `SELECT body, user_id FROM outbound_messages WHERE to_number = 'whatsapp:+15551230001'`,
      );
      assert.equal(goodbye.length, 1);
      assert.match(goodbye[0]?.body ?? '', /deleted/);
      const [totals] = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM account_deletions',
      );
      assert.equal(totals?.n, 1);
      const me = await w.t.app.inject({ method: 'GET', url: '/app/api/me', headers: { cookie } });
      assert.equal(me.statusCode, 401);
    });

    test('the app files are served without a session, with a manifest', async () => {
      const page = await w.t.app.inject({ method: 'GET', url: '/app/' });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /manifest\.webmanifest/);
      const manifest = await w.t.app.inject({ method: 'GET', url: '/app/manifest.webmanifest' });
      assert.equal(manifest.statusCode, 200);
      assert.equal((manifest.json() as { start_url: string }).start_url, '/app/');
    });
  });
}

describe('the participant app keeps tokens and numbers out of the logs [pglite]', () => {
  test('sign-in, API calls, a refused link and deletion log no token, cookie or number', async () => {
    const lines: string[] = [];
    const w = await buildWorld(engines[0] as (typeof engines)[number], lines);
    try {
      const { token } = await sendLink(w, w.alice);
      const url = `/app/sign-in?token=${encodeURIComponent(token)}`;
      await w.t.app.inject({ method: 'GET', url });
      const post = await w.t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: '',
      });
      const cookie = String(post.headers['set-cookie']).split(';')[0] as string;
      const session = decodeURIComponent(cookie.split('=')[1] ?? '');
      await w.t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: '',
      });
      await w.t.app.inject({ method: 'GET', url: '/app/api/me', headers: { cookie } });
      await w.t.app.inject({
        method: 'GET',
        url: '/app/api/me',
        headers: { cookie: `taskwire_session=${session}x` },
      });
      await w.t.app.inject({
        method: 'GET',
        url: `/app/api/feed?group_id=${w.groupB}`,
        headers: { cookie },
      });
      await w.t.app.inject({ method: 'DELETE', url: '/app/api/me', headers: { cookie } });

      const text = lines.join('\n');
      assert.ok(
        lines.some((line) => line.includes('"path":"/app/sign-in"')),
        'the requests are logged',
      );
      assert.ok(lines.some((line) => line.includes('"status":410')));
      for (const secret of [token, token.split('.')[1], session, session.split('.')[1]]) {
        assert.ok(!text.includes(secret as string), 'a token reached the log');
      }
      assert.doesNotMatch(text, /555123000\d/, 'a phone number reached the log');
    } finally {
      await w.t.close();
    }
  });
});
