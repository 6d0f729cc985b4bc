/**
 * The participant app in a real browser (Chromium through playwright-core), once at a
 * phone's 390×844 and once at a laptop's 1280×800, each with a participant of its own: a
 * magic link from the admin's "send sign-in link", its Continue page, Today (adding a task
 * with the WhatsApp phrase), the group's Feed with a photo (and one arriving live),
 * Leaderboards, Reviews (a proof approved), Me (sharing turned off), export and deletion.
 * Every page passes axe-core with no serious or critical violation, breaks no word in two
 * and scrolls not sideways. Screenshots: test-artifacts/participant/<width>-<n>-<page>.png.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { insertFeedPost } from '../src/db/feed.js';
import { MemoryBlobStore } from './fakes/memory-blob-store.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import {
  artifactsDir,
  browserSkip,
  expectNoBrokenWords,
  expectNoSeriousAxeViolations,
  launchChromium,
  openPage,
  screenshot,
} from './helpers/browser.js';
import { pglite } from './helpers/databases.js';
import { makePng } from './helpers/png.js';

interface PageElement {
  complete?: boolean;
  naturalWidth?: number;
  getBoundingClientRect(): { top: number; height: number };
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  documentElement: { scrollWidth: number; clientWidth: number };
};

const widths = [
  { width: 390, height: 844, phone: true, participant: 'Alice', phone_number: '+15551230001' },
  { width: 1280, height: 800, phone: false, participant: 'Carol', phone_number: '+15551230003' },
] as const;

describe('the participant app in a real browser [pglite]', { skip: browserSkip }, () => {
  let t: TestApp;
  let baseUrl: string;
  let browser: Browser;
  let store: MemoryBlobStore;
  let bob: number;
  let groupId: number;
  let photos = 0;
  const artifacts = artifactsDir('participant');

  const createUser = async (username: string, phone: string): Promise<number> => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/users',
      headers: t.auth,
      payload: { username, phone_number: phone },
    });
    return (response.json() as { id: number }).id;
  };

  /** A photo post of Bob's in the group; `pending_review` with `reviewTask` for a review. */
  const bobPosts = async (what: string, reviewTask: string | null = null): Promise<number> => {
    const db = t.database.db;
    photos += 1;
    const key = `messages/MMbob/${photos}.png`;
    await store.put(key, Readable.from([makePng(320, 240, (photos * 60) % 256)]), {
      contentType: 'image/png',
    });
    const [task] = reviewTask
      ? await db.query<{ id: number }>(
          `INSERT INTO tasks (user_id, description, due_time, status, group_id)
           VALUES ($1, $2, now() + interval '1 hour', 'pending_review', $3) RETURNING id`,
          [bob, reviewTask, groupId],
        )
      : [];
    const post = await insertFeedPost(db, {
      user_id: bob,
      task_id: task ? Number(task.id) : null,
      image_url: null,
      image_key: key,
      post_content: what,
      message_id: null,
      ...(task ? { status: 'pending_review' as const } : {}),
    });
    await db.query('UPDATE feed SET group_id = $2 WHERE id = $1', [post?.id, groupId]);
    if (task) {
      await db.query(
        `INSERT INTO proof_reviews (feed_id, task_id, user_id, group_id, owner_address,
                                    from_number, image_key, method, timeout_at)
         VALUES ($1, $2, $3, $4, 'whatsapp:+15551230002', 'whatsapp:+15550001111', $5, 'peer',
                 now() + interval '12 hours')`,
        [post?.id, task.id, bob, groupId, key],
      );
    }
    return Number(post?.id);
  };

  before(async () => {
    store = new MemoryBlobStore();
    t = await createTestApp(pglite, {
      store,
      senders: { whatsapp: '+15550001111', sms: null },
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const db = t.database.db;
    bob = await createUser('Bob', '+15551230002');
    await db.query('DELETE FROM group_members');
    const [group] = await db.query<{ id: number }>(
      `INSERT INTO groups (name, invite_code) VALUES ('Morning runners', 'RUNB') RETURNING id`,
    );
    groupId = Number(group?.id);
    await db.query('INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)', [groupId, bob]);
    await bobPosts('Ran 5 km along the river');
    await db.query('UPDATE users SET points = 30 WHERE id = $1', [bob]);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('the checks fail where they should: an unnamed button, faint text, a word split', async () => {
    const page = await openPage(browser, { viewport: { width: 390, height: 844 } }, []);
    await page.setContent(
      `<!doctype html><html lang="en"><title>t</title><main><h1>t</h1>
       <p style="color:#bbb">faint words</p><button></button>
       <p style="width:4ch;overflow-wrap:anywhere">Leaderboards</p></main></html>`,
    );
    await assert.rejects(expectNoSeriousAxeViolations(page, 'a bad page'), (error: Error) => {
      assert.match(error.message, /color-contrast \(serious\) \["p/);
      assert.match(error.message, /button-name \(critical\) \["button"\]/);
      return true;
    });
    await assert.rejects(expectNoBrokenWords(page, 'a bad page'), /Leaderboards/);
    await page.context().close();
  });

  for (const size of widths) {
    test(`${size.width}×${size.height}: sign in, every page, a review approved, export, delete`, async () => {
      const db = t.database.db;
      const me = await createUser(size.participant, size.phone_number);
      // In the one group only (not the default group too): a new task needs no group named.
      await db.query('DELETE FROM group_members WHERE user_id = $1', [me]);
      await db.query('INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)', [
        groupId,
        me,
      ]);
      const pageErrors: string[] = [];
      const page: Page = await openPage(
        browser,
        {
          acceptDownloads: true,
          viewport: { width: size.width, height: size.height },
          deviceScaleFactor: size.phone ? 2 : 1,
          isMobile: size.phone,
          hasTouch: size.phone,
          locale: 'en-GB',
          timezoneId: 'UTC',
        },
        pageErrors,
      );
      page.on('console', (message) => {
        // A 401 is the app asking whether it is signed in (after deletion: it is not).
        if (message.type() === 'error' && !/status of 401/.test(message.text())) {
          pageErrors.push(message.text());
        }
      });
      // Nothing from another origin.
      await page
        .context()
        .route(/.*/, (route) =>
          route.request().url().startsWith(baseUrl) ? route.continue() : route.abort(),
        );
      let shot = 0;
      /** The checks every page passes, then its screenshot. */
      const checked = async (name: string) => {
        const label = `${name} at ${size.width}px`;
        const overflow = await page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        assert.ok(overflow <= 0, `${label} scrolls sideways by ${overflow}px`);
        await expectNoBrokenWords(page, label);
        await expectNoSeriousAxeViolations(page, label);
        shot += 1;
        await screenshot(page, artifacts, `${size.width}-${shot}-${name}`);
      };
      const openTab = async (link: string, heading: string) => {
        await page.getByRole('link', { name: link, exact: true }).click();
        await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      };

      // Through the port, as the dashboard would: the link is built on the address used.
      const sent = await fetch(`${baseUrl}/users/${me}/sign-in-link`, {
        method: 'POST',
        headers: t.auth,
      });
      assert.equal(sent.status, 202);
      const { outbound_message_id: id } = (await sent.json()) as { outbound_message_id: number };
      const [row] = await db.query<{ body: string }>(
        'SELECT body FROM outbound_messages WHERE id = $1',
        [id],
      );
      const url = /(http\S+\/app\/sign-in\?token=\S+)/.exec(row?.body ?? '')?.[1] ?? '';
      assert.ok(url.startsWith(baseUrl), row?.body);
      await page.goto(url);
      await page.getByRole('button', { name: 'Continue' }).waitFor();
      await checked('continue');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL(`${baseUrl}/app/`);
      await page.getByRole('heading', { name: 'Today', exact: true }).waitFor();
      await page.getByText('Nothing due').waitFor();
      // One row of header on a phone: the bar is no taller than its title line.
      const bar = await page.evaluate(() =>
        document.querySelector('.bar')?.getBoundingClientRect(),
      );
      assert.ok(bar && bar.height <= 56, `the header is ${bar?.height}px tall`);
      const tabTops = await page.evaluate(() =>
        [...document.querySelectorAll('#tabs a')].map((a) => a.getBoundingClientRect().top),
      );
      assert.equal(new Set(tabTops).size, 1, `the tabs sit on one row: ${tabTops.join(', ')}`);
      await checked('today');

      await page.getByLabel('Add a task or habit, as on WhatsApp').fill('new Stretch tomorrow 8am');
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      await page.locator('.list .what', { hasText: 'Stretch' }).waitFor();
      await page.locator('.add .reply', { hasText: 'Stretch' }).waitFor();
      await checked('today-added');

      await openTab('Feed', 'Feed');
      await page.getByText('Ran 5 km along the river').first().waitFor();
      await page.waitForFunction(() => {
        const image = document.querySelector('.post img');
        return image !== null && image.complete === true && (image.naturalWidth ?? 0) > 0;
      });
      // Another member's proof arrives while the page is open: it appears without a reload.
      const live = `Swam 1 km before work (${size.width})`;
      await bobPosts(live);
      await page.getByText(live).waitFor();
      await checked('feed');

      await openTab('Boards', 'Leaderboards');
      await page.getByRole('heading', { name: 'Morning runners' }).waitFor();
      await page.getByRole('button', { name: 'All time' }).click();
      await page.locator('.board li', { hasText: 'Bob' }).waitFor();
      await checked('leaderboards');

      // A proof waiting for my review: approved from the Reviews tab.
      const task = `Cycle to work (${size.width})`;
      const proof = await bobPosts('', task);
      await openTab('Reviews', 'Reviews');
      await page.getByText(task).waitFor();
      await checked('reviews');
      // A second proof arrives while a card, with its empty reason box, is on show: it
      // appears without a reload (an empty field is not someone typing).
      const second = `Stretch 10 min (${size.width})`;
      await bobPosts('', second);
      await page.getByText(second).waitFor();
      await page
        .locator('.post', { hasText: second })
        .getByRole('button', { name: 'Approve' })
        .click();
      await page.locator('.post', { hasText: second }).waitFor({ state: 'detached' });
      await page
        .locator('.post', { hasText: task })
        .getByRole('button', { name: 'Approve' })
        .click();
      await page.getByText('No proofs waiting for you').waitFor();
      const [decided] = await db.query<{ status: string }>(
        'SELECT status FROM proof_reviews WHERE feed_id = $1',
        [proof],
      );
      assert.equal(decided?.status, 'approved');

      await openTab('Me', 'Me');
      await page.getByRole('heading', { name: size.participant }).waitFor();
      const sharing = page.getByRole('checkbox', { name: /Share my proofs/ });
      assert.equal(await sharing.isChecked(), true);
      await sharing.uncheck();
      await page.getByText('Your proofs stay with you').waitFor();
      const [pref] = await db.query<{ share_proofs: boolean }>(
        'SELECT share_proofs FROM users WHERE id = $1',
        [me],
      );
      assert.equal(pref?.share_proofs, false);
      await checked('me');

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Export my data' }).click(),
      ]);
      const file = `${artifacts}${size.width}-export.json`;
      await download.saveAs(file);
      const exported = JSON.parse(readFileSync(file, 'utf8')) as {
        user: { username: string };
        tasks: { description: string }[];
      };
      assert.equal(exported.user.username, size.participant);
      assert.ok(exported.tasks.some((row) => row.description === 'Stretch'));

      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: 'Delete my account' }).click();
      await page.getByRole('heading', { name: 'Account deleted' }).waitFor();
      await checked('deleted');
      assert.deepEqual(await db.query('SELECT 1 FROM users WHERE id = $1', [me]), []);
      await page.reload();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await checked('signed-out');
      assert.deepEqual(pageErrors, []);
      await page.context().close();
    });
  }
});
