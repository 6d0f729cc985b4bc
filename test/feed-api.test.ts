import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { insertFeedPost } from '../src/db/feed.js';
import { addPoints } from '../src/db/users.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/databases.js';
import { expectError } from './helpers/errors.js';

interface FeedItemBody {
  id: number;
  created_at: string;
  user_id: number;
  username: string;
  task_id: number | null;
  task_description: string | null;
  image_url: string | null;
  post_content: string | null;
  status: string;
}
interface FeedPage {
  items: FeedItemBody[];
  total: number;
  limit: number;
  offset: number;
}
interface LeaderboardBody {
  items: { rank: number; user_id: number; username: string; points: number }[];
}

const FEED_FIELDS = [
  'created_at',
  'group_id',
  'id',
  'image_url',
  'image_url_error',
  'post_content',
  'status',
  'task_description',
  'task_id',
  'user_id',
  'username',
];

/** Creates users through the API; resolves to their ids, in order. */
async function createUsers(t: TestApp, names: string[], firstPhone: number): Promise<number[]> {
  const ids: number[] = [];
  for (const [index, username] of names.entries()) {
    const response = await t.app.inject({
      method: 'POST',
      url: '/users',
      headers: t.auth,
      payload: { username, phone_number: `+1${firstPhone + index}` },
    });
    assert.equal(response.statusCode, 201, response.body);
    ids.push((response.json() as { id: number }).id);
  }
  return ids;
}

for (const engine of engines) {
  describe(`feed API [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    let ada: number;
    let bob: number;
    /** Feed post ids, oldest first. */
    const posts: { id: number; user: number; content: string }[] = [];

    const get = (url: string) => t.app.inject({ method: 'GET', url, headers: t.auth });

    before(async () => {
      t = await createTestApp(engine);
      [ada, bob] = (await createUsers(t, ['Ada', 'Bob'], 5550400000)) as [number, number];
      const db = t.database.db;
      // Seven posts, one a minute, alternating authors; post 3 has no task.
      for (let i = 0; i < 7; i += 1) {
        const user = i % 2 === 0 ? ada : bob;
        const [task] = await db.query<{ id: number }>(
          `INSERT INTO tasks (user_id, description, due_time, status, completed_at)
           VALUES ($1, $2, now(), 'completed', now()) RETURNING id`,
          [user, `task ${i}`],
        );
        const [post] = await db.query<{ id: number }>(
          `INSERT INTO feed (created_at, user_id, task_id, image_url, post_content)
           VALUES ($1, $2, $3, $4, $5) RETURNING id`,
          [
            new Date(Date.UTC(2030, 0, 1, 12, i)),
            user,
            i === 3 ? null : task?.id,
            `messages/MM${i}/0.jpg`,
            `post ${i}`,
          ],
        );
        posts.push({ id: post?.id as number, user, content: `post ${i}` });
      }
      // Inserted last but dated first: the order is by created_at, not by id.
      const [early] = await db.query<{ id: number }>(
        `INSERT INTO feed (created_at, user_id, post_content, status)
         VALUES ('2029-12-31T00:00:00Z', $1, 'early', 'hidden') RETURNING id`,
        [bob],
      );
      posts.unshift({ id: early?.id as number, user: bob, content: 'early' });
    });
    after(async () => t?.close());

    const newestFirst = (user?: number) =>
      [...posts]
        .reverse()
        .filter((post) => user === undefined || post.user === user)
        .map((post) => post.content);

    test('GET /feed lists posts newest first with username and task description', async () => {
      const response = await get('/feed');
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json() as FeedPage;
      assert.equal(page.total, 8);
      assert.equal(page.limit, 50);
      assert.equal(page.offset, 0);
      assert.deepEqual(
        page.items.map((item) => item.post_content),
        newestFirst(),
      );
      const newest = page.items[0] as FeedItemBody;
      assert.deepEqual(Object.keys(newest).sort(), FEED_FIELDS);
      assert.equal(newest.username, 'Ada');
      assert.equal(newest.user_id, ada);
      assert.equal(newest.task_description, 'task 6');
      assert.equal(typeof newest.task_id, 'number');
      assert.equal(newest.image_url, 'messages/MM6/0.jpg');
      assert.equal(newest.status, 'published');
      assert.equal(newest.created_at, '2030-01-01T12:06:00.000Z');

      const taskless = page.items.find((item) => item.post_content === 'post 3');
      assert.equal(taskless?.task_id, null);
      assert.equal(taskless?.task_description, null);
      assert.equal(taskless?.username, 'Bob');
      const oldest = page.items.at(-1);
      assert.equal(oldest?.post_content, 'early');
      assert.equal(oldest?.status, 'hidden');
      assert.equal(oldest?.image_url, null);
    });

    test('limit and offset page through the feed exactly once', async () => {
      const seen: string[] = [];
      for (let offset = 0; offset < 8; offset += 3) {
        const page = (await get(`/feed?limit=3&offset=${offset}`)).json() as FeedPage;
        assert.equal(page.total, 8);
        assert.equal(page.limit, 3);
        assert.equal(page.offset, offset);
        seen.push(...page.items.map((item) => item.post_content as string));
      }
      assert.deepEqual(seen, newestFirst());
      const past = (await get('/feed?offset=100')).json() as FeedPage;
      assert.deepEqual(past.items, []);
      assert.equal(past.total, 8);
    });

    test("user_id keeps one user's posts", async () => {
      const page = (await get(`/feed?user_id=${bob}`)).json() as FeedPage;
      assert.equal(page.total, 4);
      assert.deepEqual(
        page.items.map((item) => item.post_content),
        newestFirst(bob),
      );
      assert.ok(page.items.every((item) => item.username === 'Bob'));
      const nobody = (await get('/feed?user_id=999999')).json() as FeedPage;
      assert.deepEqual(nobody, { items: [], total: 0, limit: 50, offset: 0 });
    });

    test('bad paging or user_id is a 400 naming the parameter', async () => {
      expectError(await get('/feed?limit=101'), 400, 'validation_failed', /limit/);
      expectError(await get('/feed?limit=0'), 400, 'validation_failed', /limit/);
      expectError(await get('/feed?offset=-1'), 400, 'validation_failed', /offset/);
      expectError(await get('/feed?user_id=ada'), 400, 'validation_failed', /user_id/);
    });

    test('insertFeedPost adds one post per task and per message', async () => {
      const db = t.database.db;
      const [task] = await db.query<{ id: number }>(
        `INSERT INTO tasks (user_id, description, due_time) VALUES ($1, 'proof', now()) RETURNING id`,
        [ada],
      );
      const post = {
        user_id: ada,
        task_id: task?.id as number,
        image_url: 'messages/MMx/0.jpg',
        post_content: 'done',
        message_id: null,
      };
      const created = await insertFeedPost(db, post);
      assert.ok(created);
      assert.equal(created.status, 'published');
      assert.equal(created.task_id, task?.id);
      assert.equal(await insertFeedPost(db, post), null);
      await db.query('DELETE FROM feed WHERE id = $1', [created.id]);
    });

    test('GET /feed answers 401 without the API token', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/feed' });
      expectError(response, 401, 'unauthorized', /API token/);
    });
  });

  describe(`leaderboard API [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestApp;
    let ids: number[];

    before(async () => {
      t = await createTestApp(engine);
      ids = await createUsers(t, ['Ada', 'Bob', 'Cy', 'Dee', 'Eve'], 5550500000);
      const points = [30, 50, 30, 10, 0];
      for (const [index, id] of ids.entries()) {
        await t.database.db.query('UPDATE users SET points = $2 WHERE id = $1', [
          id,
          points[index],
        ]);
      }
    });
    after(async () => t?.close());

    const get = (url: string) => t.app.inject({ method: 'GET', url, headers: t.auth });

    test('GET /leaderboard ranks users by points; equal points share a rank (1, 2, 2, 4)', async () => {
      const response = await get('/leaderboard');
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json() as LeaderboardBody;
      // Nobody has a habit: every streak is 0 (test/habits-api.test.ts counts real ones).
      const streaks = { current_streak: 0, best_streak: 0 };
      assert.deepEqual(body.items, [
        { rank: 1, user_id: ids[1], username: 'Bob', points: 50, ...streaks },
        { rank: 2, user_id: ids[0], username: 'Ada', points: 30, ...streaks },
        { rank: 2, user_id: ids[2], username: 'Cy', points: 30, ...streaks },
        { rank: 4, user_id: ids[3], username: 'Dee', points: 10, ...streaks },
        { rank: 5, user_id: ids[4], username: 'Eve', points: 0, ...streaks },
      ]);
    });

    test('limit keeps the top of the board, ranks unchanged', async () => {
      const body = (await get('/leaderboard?limit=3')).json() as LeaderboardBody;
      assert.deepEqual(
        body.items.map((item) => [item.rank, item.username]),
        [
          [1, 'Bob'],
          [2, 'Ada'],
          [2, 'Cy'],
        ],
      );
      expectError(await get('/leaderboard?limit=0'), 400, 'validation_failed', /limit/);
      expectError(await get('/leaderboard?limit=101'), 400, 'validation_failed', /limit/);
    });

    test('a tie at the top is rank 1 twice, then 3; addPoints moves a user up', async () => {
      assert.equal(await addPoints(t.database.db, ids[0] as number, 20), 50);
      const body = (await get('/leaderboard?limit=3')).json() as LeaderboardBody;
      assert.deepEqual(
        body.items.map((item) => [item.rank, item.username, item.points]),
        [
          [1, 'Ada', 50],
          [1, 'Bob', 50],
          [3, 'Cy', 30],
        ],
      );
      assert.equal(await addPoints(t.database.db, 999_999, 5), null);
    });

    test('GET /leaderboard answers 401 without the API token', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/leaderboard' });
      expectError(response, 401, 'unauthorized', /API token/);
    });
  });
}
