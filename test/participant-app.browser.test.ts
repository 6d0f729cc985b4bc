/**
 * The participant app in a real browser (Chromium through playwright-core) at a phone's
 * 390×844: a magic link from the admin's "send sign-in link", its Continue page, Today
 * (adding a task with the WhatsApp phrase), the group's Feed with a photo, Leaderboards and
 * Me. Screenshots go to test-artifacts/participant/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { insertFeedPost } from '../src/db/feed.js';
import { MemoryBlobStore } from './fakes/memory-blob-store.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { pglite } from './helpers/databases.js';
import { makePng } from './helpers/png.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Chromium (apt-get install chromium) to run the browser tests`;
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/participant/', import.meta.url));

interface PageElement {
  complete?: boolean;
  naturalWidth?: number;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  documentElement: { scrollWidth: number; clientWidth: number };
};

describe('the participant app in a real browser [pglite]', { skip }, () => {
  let t: TestApp;
  let baseUrl: string;
  let browser: Browser;
  let page: Page;
  let alice: number;
  let bob: number;
  let groupId: number;
  let store: MemoryBlobStore;
  const pageErrors: string[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    store = new MemoryBlobStore();
    t = await createTestApp(pglite, {
      store,
      senders: { whatsapp: '+15550001111', sms: null },
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const db = t.database.db;
    const ids: number[] = [];
    for (const [username, phone] of [
      ['Alice', '+15551230001'],
      ['Bob', '+15551230002'],
    ]) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/users',
        headers: t.auth,
        payload: { username, phone_number: phone },
      });
      ids.push((response.json() as { id: number }).id);
    }
    alice = ids[0] as number;
    bob = ids[1] as number;
    await db.query('DELETE FROM group_members');
    const [group] = await db.query<{ id: number }>(
      `INSERT INTO groups (name, invite_code) VALUES ('Morning runners', 'RUNB') RETURNING id`,
    );
    groupId = Number(group?.id);
    await db.query(`INSERT INTO group_members (group_id, user_id) VALUES ($1, $2), ($1, $3)`, [
      group?.id,
      ids[0],
      ids[1],
    ]);
    const key = 'messages/MMbob/0.png';
    await store.put(key, Readable.from([makePng(320, 240, 140)]), { contentType: 'image/png' });
    const post = await insertFeedPost(db, {
      user_id: ids[1] as number,
      task_id: null,
      image_url: null,
      image_key: key,
      post_content: 'Ran 5 km along the river',
      message_id: null,
    });
    await db.query('UPDATE feed SET group_id = $2 WHERE id = $1', [post?.id, group?.id]);
    await db.query('UPDATE users SET points = 30 WHERE id = $1', [ids[1]]);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'en-GB',
      timezoneId: 'UTC',
    });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // A 401 is the app asking whether it is signed in (after deletion: it is not).
      if (message.type() === 'error' && !/status of 401/.test(message.text())) {
        pageErrors.push(message.text());
      }
    });
    // Nothing from another origin.
    await context.route(/.*/, (route) =>
      route.request().url().startsWith(baseUrl) ? route.continue() : route.abort(),
    );
  });

  after(async () => {
    await browser?.close();
    await t?.close();
  });

  const noHorizontalScroll = async () => {
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
  };

  test('the magic link shows Continue; Continue signs in and opens Today', async () => {
    // Through the port, as the dashboard would: the link is built on the address used.
    const sent = await fetch(`${baseUrl}/users/${alice}/sign-in-link`, {
      method: 'POST',
      headers: t.auth,
    });
    assert.equal(sent.status, 202);
    const { outbound_message_id: id } = (await sent.json()) as { outbound_message_id: number };
    const [row] = await t.database.db.query<{ body: string }>(
      'SELECT body FROM outbound_messages WHERE id = $1',
      [id],
    );
    const url = /(http\S+\/app\/sign-in\?token=\S+)/.exec(row?.body ?? '')?.[1] ?? '';
    assert.ok(url.startsWith(baseUrl), row?.body);

    await page.goto(url);
    await page.getByRole('button', { name: 'Continue' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}1-continue.png` });
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${baseUrl}/app/`);
    await page.getByRole('heading', { name: 'Today' }).waitFor();
    await page.getByText('Nothing due').waitFor();
    await noHorizontalScroll();
    await page.screenshot({ path: `${ARTIFACTS}2-today.png` });
  });

  test('Today adds a task with the WhatsApp phrase', async () => {
    await page.getByLabel('Add a task or habit, as on WhatsApp').fill('new Stretch tomorrow 8am');
    await page.getByRole('button', { name: 'Add' }).click();
    await page.locator('.list .what', { hasText: 'Stretch' }).waitFor();
    await page.locator('.add .reply', { hasText: 'Stretch' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}3-today-added.png` });
  });

  test('Feed shows the group’s photos, a new one live; Leaderboards; a review approved; Me', async () => {
    await page.getByRole('link', { name: 'Feed' }).click();
    await page.getByRole('heading', { name: 'Feed' }).waitFor();
    await page.getByText('Ran 5 km along the river').waitFor();
    await page.waitForFunction(() => {
      const image = document.querySelector('.post img');
      return image !== null && image.complete === true && (image.naturalWidth ?? 0) > 0;
    });
    await noHorizontalScroll();
    await page.screenshot({ path: `${ARTIFACTS}4-feed.png` });

    // Another member's proof arrives while the page is open: it appears without a reload.
    const key = 'messages/MMbob/1.png';
    await store.put(key, Readable.from([makePng(320, 240, 40)]), { contentType: 'image/png' });
    const post = await insertFeedPost(t.database.db, {
      user_id: bob,
      task_id: null,
      image_url: null,
      image_key: key,
      post_content: 'Swam 1 km before work',
      message_id: null,
    });
    await t.database.db.query('UPDATE feed SET group_id = $2 WHERE id = $1', [post?.id, groupId]);
    await page.getByText('Swam 1 km before work').waitFor();
    await page.screenshot({ path: `${ARTIFACTS}4b-feed-live.png` });

    await page.getByRole('link', { name: 'Boards' }).click();
    await page.getByRole('heading', { name: 'Morning runners' }).waitFor();
    await page.getByRole('button', { name: 'All time' }).click();
    await page.locator('.board li', { hasText: 'Bob' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}5-leaderboards.png` });

    // A proof waiting for Alice's review: approved from the Reviews tab.
    const db = t.database.db;
    const [task] = await db.query<{ id: number }>(
      `INSERT INTO tasks (user_id, description, due_time, status, group_id)
       VALUES ($1, 'Cycle to work', now() + interval '1 hour', 'pending_review', $2) RETURNING id`,
      [bob, groupId],
    );
    const reviewKey = 'messages/MMbob/2.png';
    await store.put(reviewKey, Readable.from([makePng(320, 240, 250)]), {
      contentType: 'image/png',
    });
    const proof = await insertFeedPost(db, {
      user_id: bob,
      task_id: Number(task?.id),
      image_url: null,
      image_key: reviewKey,
      post_content: null,
      message_id: null,
      status: 'pending_review',
    });
    await db.query('UPDATE feed SET group_id = $2 WHERE id = $1', [proof?.id, groupId]);
    await db.query(
      `INSERT INTO proof_reviews (feed_id, task_id, user_id, group_id, owner_address,
                                  from_number, image_key, method, timeout_at)
       VALUES ($1, $2, $3, $4, 'whatsapp:+15551230002', 'whatsapp:+15550001111', $5, 'peer',
               now() + interval '12 hours')`,
      [proof?.id, task?.id, bob, groupId, reviewKey],
    );
    await page.getByRole('link', { name: 'Reviews' }).click();
    await page.getByText('Cycle to work').waitFor();
    await page.screenshot({ path: `${ARTIFACTS}5b-reviews.png` });
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('No proofs waiting for you').waitFor();
    const [decided] = await db.query<{ status: string }>(
      'SELECT status FROM proof_reviews WHERE feed_id = $1',
      [proof?.id],
    );
    assert.equal(decided?.status, 'approved');
    await page.screenshot({ path: `${ARTIFACTS}5c-reviewed.png` });

    await page.getByRole('link', { name: 'Me' }).click();
    await page.getByRole('heading', { name: 'Alice' }).waitFor();
    await page.getByRole('link', { name: 'Export my data' }).waitFor();
    await noHorizontalScroll();
    await page.screenshot({ path: `${ARTIFACTS}6-me.png`, fullPage: true });
    assert.deepEqual(pageErrors, []);
  });

  test('Me: export my data, then delete my account', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export my data' }).click(),
    ]);
    const file = `${ARTIFACTS}export.json`;
    await download.saveAs(file);
    const exported = JSON.parse(readFileSync(file, 'utf8')) as {
      user: { username: string };
      tasks: { description: string }[];
    };
    assert.equal(exported.user.username, 'Alice');
    assert.ok(exported.tasks.some((task) => task.description === 'Stretch'));

    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.getByRole('heading', { name: 'Account deleted' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}7-deleted.png` });
    const left = await t.database.db.query('SELECT 1 FROM users WHERE id = $1', [alice]);
    assert.equal(left.length, 0);
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.deepEqual(pageErrors, []);
  });
});
