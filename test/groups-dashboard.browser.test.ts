/**
 * Groups and pending reviews in the dashboard, in a real browser (Chromium through
 * playwright-core) against the real service on PGlite with the fake Twilio. The tests run in
 * order and tell one story: the admin creates a peer-review group in the Groups tab, sees its
 * invite link, adds Ada, Bob and Cy, takes Cy out again (after saying yes) and changes the
 * group's time zone in place; Ada's WhatsApp photo for a task of the group arrives in the
 * open Reviews tab by itself, the admin approves it and the task is completed; the group's
 * week leaderboard shows Ada's points. On a 390 px phone the admin rejects a second proof
 * with a reason. Screenshots go to test-artifacts/groups-dashboard/.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  artifactsDir,
  browserSkip as skip,
  openPage,
  phoneScreen,
  screenshot,
} from './helpers/browser.js';
import { dashboardInBrowser } from './helpers/dashboard-browser.js';
import { makePhoto } from './helpers/photos.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';
const ADA = '+15550003331';
const TIMEZONE = 'Europe/Paris';
const POINTS = 15;

// The little of the DOM that code running in the page uses (this project compiles without
// the DOM library). Page code is passed as functions: the dashboard's CSP forbids eval.
interface PageElement {
  complete?: boolean;
  naturalWidth?: number;
  scrollWidth: number;
  clientWidth: number;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  documentElement: { scrollWidth: number; clientWidth: number };
};
declare const navigator: { clipboard: { readText(): Promise<string> } };

interface Review {
  id: number;
  task_id: number;
  status: string;
  decided_by: string | null;
  reason: string | null;
}

describe('groups and pending reviews in the dashboard [pglite]', { skip }, () => {
  const dashboard = dashboardInBrowser({ whatsappNumber: GROUP_NUMBER });
  const { api, deliver } = dashboard;
  let page: Page;
  const pageErrors: string[] = [];
  const people: Record<string, number> = {};
  let groupId = 0;
  let approvedTask = 0;

  before(async () => {
    page = await openPage(
      dashboard.browser,
      {
        viewport: { width: 1280, height: 800 },
        timezoneId: TIMEZONE,
        locale: 'en-GB',
        permissions: ['clipboard-read', 'clipboard-write'],
      },
      pageErrors,
    );
    for (const [username, phone] of [
      ['Ada', ADA],
      ['Bob', '+15550003332'],
      ['Cy', '+15550003333'],
    ] as const) {
      people[username] = (await api('POST', '/users', { username, phone_number: phone }))
        .id as number;
    }
  });

  const artifacts = artifactsDir('groups-dashboard');
  const shot = (name: string, target: Page = page) => screenshot(target, artifacts, name);

  const members = async () =>
    ((await api('GET', `/groups/${groupId}`)).members as { username: string; role: string }[])
      .map((member) => `${member.username}:${member.role}`)
      .sort();
  const pendingReviews = async () =>
    (await api('GET', `/reviews?status=pending&group_id=${groupId}`)).items as Review[];

  let photos = 0;
  /** A task of the group for Ada, then her WhatsApp photo for it; resolves to its review. */
  async function adaProves(description: string): Promise<Review> {
    // Another picture each time: a photo used as proof before is refused (proof checks).
    photos += 1;
    const bytes = await makePhoto(40 + photos, 320, 240);
    const task = await api('POST', '/tasks', {
      user_id: people.Ada,
      description,
      due_time: new Date(Date.now() + 3 * 3_600_000).toISOString(),
      points: POINTS,
      notify: false,
      group_id: groupId,
    });
    const photo = dashboard.twilio.addMedia({ bytes, contentType: 'image/jpeg' });
    await deliver(
      whatsAppParams({
        from: ADA,
        to: GROUP_NUMBER,
        body: 'Done',
        messageSid: photo.messageSid,
        media: [{ url: photo.url, contentType: 'image/jpeg' }],
      }),
    );
    return waitFor(
      async () => (await pendingReviews()).find((review) => review.task_id === task.id),
      20_000,
    );
  }

  /** How much wider than the window the page and the tab row are (0: nothing hidden). */
  const overflow = (target: Page) =>
    target.evaluate(() => {
      const nav = document.querySelector('#nav') as PageElement;
      return {
        page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        tabs: nav.scrollWidth - nav.clientWidth,
      };
    });

  test('a group created in the Groups tab shows its invite link; members are added, one removed after a yes', async () => {
    await dashboard.signIn(page);
    await page.getByRole('heading', { name: 'Feed', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Groups', exact: true }).click();
    await page.getByRole('heading', { name: 'Groups', level: 1 }).waitFor();

    const form = page.locator('form[data-group-form]');
    await form.getByLabel('Name').fill('Morning runners');
    await form.getByLabel('Review of proofs').selectOption('peer');
    await form.getByLabel('Sharing with the group').selectOption('off');
    await form.getByRole('button', { name: 'Create group' }).click();

    // The new group opens: its name, its code and the wa.me link that types `join <code>`.
    const detail = page.locator('[data-open-group]');
    await detail.getByRole('heading', { name: 'Morning runners', level: 2 }).waitFor();
    const groups = (await api('GET', '/groups')).items as {
      id: number;
      name: string;
      review: string;
      share: string;
      invite_code: string;
      join_url: string;
    }[];
    const created = groups.find((group) => group.name === 'Morning runners');
    assert.ok(created, 'the group was created');
    assert.equal(created.review, 'peer');
    assert.equal(created.share, 'off');
    groupId = created.id;
    assert.equal(await detail.locator('[data-invite-code]').innerText(), created.invite_code);
    const link = detail.getByLabel('Join link');
    assert.equal(await link.inputValue(), created.join_url);
    assert.equal(
      created.join_url,
      `https://wa.me/${GROUP_NUMBER.slice(1)}?text=join%20${created.invite_code}`,
    );
    await detail.getByRole('button', { name: 'Copy link' }).click();
    await page.locator('#notice', { hasText: 'Join link copied.' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), created.join_url);
    const row = page.locator(`[data-group-list] tr[data-group-id="${groupId}"]`);
    assert.match(await row.innerText(), /Morning runners[\s\S]*Peer[\s\S]*Off[\s\S]*0/);

    // Ada (an admin of it), Bob and Cy join through the form.
    const addForm = detail.getByRole('form', { name: 'Add a member' });
    for (const [name, role] of [
      ['Ada', 'admin'],
      ['Bob', 'member'],
      ['Cy', 'member'],
    ] as const) {
      await addForm.getByLabel('Person').selectOption({ label: name });
      await addForm.getByLabel('Role').selectOption(role);
      await addForm.getByRole('button', { name: 'Add member' }).click();
      await detail.locator(`[data-members] tr[data-user-id="${people[name]}"]`).waitFor();
    }
    assert.deepEqual(await members(), ['Ada:admin', 'Bob:member', 'Cy:member']);
    await page
      .locator(`[data-group-list] tr[data-group-id="${groupId}"] td[data-label="Members"]`, {
        hasText: '3',
      })
      .waitFor();
    assert.deepEqual(
      await addForm.getByLabel('Person').locator('option').allInnerTexts(),
      ['Everybody is in'],
      'nobody left to add',
    );

    // Remove asks first; only "Yes, remove" takes Cy out.
    const cy = detail.locator(`[data-members] tr[data-user-id="${people.Cy}"]`);
    await cy.getByRole('button', { name: 'Remove Cy' }).click();
    await cy.getByText('Remove Cy from Morning runners?').waitFor();
    assert.deepEqual(await members(), ['Ada:admin', 'Bob:member', 'Cy:member']);
    await shot('01-group-remove-asks');
    await cy.getByRole('button', { name: 'Yes, remove' }).click();
    await cy.waitFor({ state: 'detached' });
    assert.deepEqual(await members(), ['Ada:admin', 'Bob:member']);
    assert.deepEqual(
      await addForm.getByLabel('Person').locator('option').allInnerTexts(),
      ['Cy'],
      'Cy can be added again',
    );
  });

  test('the group’s time zone is edited in place', async () => {
    const settings = page.locator('[data-open-group] form[aria-labelledby="group-settings-title"]');
    await settings.getByLabel('Time zone').fill('America/New_York');
    await settings.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#notice', { hasText: 'Saved “Morning runners”.' }).waitFor();
    const group = await api('GET', `/groups/${groupId}`);
    assert.equal(group.timezone, 'America/New_York');
    assert.equal(group.review, 'peer', 'the other rules stay');
    await page
      .locator(`[data-group-list] tr[data-group-id="${groupId}"]`, { hasText: 'America/New_York' })
      .waitFor();
    assert.equal(await settings.getByLabel('Time zone').inputValue(), 'America/New_York');
  });

  test('a pending proof appears in the open Reviews tab by itself; approving it completes the task', async () => {
    await page.getByRole('link', { name: 'Reviews', exact: true }).click();
    await page.locator('#live-status[data-state="on"]').waitFor();
    await page
      .getByText('No proof is waiting for review. Groups with review “peer” or “model” ask here.')
      .waitFor();
    await shot('02-reviews-empty');

    const review = await adaProves('Run 5 km before work');
    approvedTask = review.task_id;
    // No click: the live stream brings it (the periodic refresh is 30 s away).
    const card = page.locator(`article.review-card[data-review-id="${review.id}"]`);
    await card.waitFor();
    const text = await card.innerText();
    assert.match(text, /Run 5 km before work/);
    assert.match(text, /Ada · Morning runners · Peer review/);
    assert.match(text, /Sent (now|just now|\d+ seconds? ago|1 minute ago)/);
    await waitFor(() =>
      card.locator('img').evaluate((image: PageElement) => image.complete === true),
    );
    assert.ok(
      (await card.locator('img').evaluate((image: PageElement) => image.naturalWidth ?? 0)) > 0,
      'the photo under review loads',
    );
    assert.equal((await api('GET', `/tasks/${review.task_id}`)).status, 'pending_review');
    await shot('03-reviews-pending');

    await card.getByRole('button', { name: 'Approve' }).click();
    await page.locator('#notice', { hasText: 'Approved Ada’s “Run 5 km before work”' }).waitFor();
    await card.waitFor({ state: 'detached' });
    const task = await api('GET', `/tasks/${review.task_id}`);
    assert.equal(task.status, 'completed');
    const decided = (await api('GET', `/reviews?group_id=${groupId}`)).items as Review[];
    assert.deepEqual(
      decided.map((r) => [r.id, r.status, r.decided_by]),
      [[review.id, 'approved', 'admin']],
    );
    assert.equal((await api('GET', `/users/${people.Ada}`)).points, POINTS);
  });

  test('the group’s week leaderboard shows Ada’s points; its feed and the Feed filter show her proof', async () => {
    await page.getByRole('link', { name: 'Groups', exact: true }).click();
    await page
      .locator(`[data-group-list] tr[data-group-id="${groupId}"]`)
      .getByRole('button', { name: 'Morning runners' })
      .click();
    const detail = page.locator('[data-open-group]');
    const week = detail.getByRole('button', { name: 'This week' });
    assert.equal(await week.getAttribute('aria-pressed'), 'true', 'the week is shown first');
    const ada = detail.locator(`[data-group-board] tr[data-user-id="${people.Ada}"]`);
    await ada.waitFor();
    assert.equal(await ada.locator('td.points').innerText(), String(POINTS));
    assert.equal(
      await detail
        .locator(`[data-group-board] tr[data-user-id="${people.Bob}"] td.points`)
        .innerText(),
      '0',
    );
    assert.match(await detail.locator('[data-board-range]').innerText(), /America\/New_York$/);
    await detail.getByRole('button', { name: 'All time' }).click();
    await detail.locator('[data-board-range]', { hasText: 'Every proof so far' }).waitFor();
    assert.equal(await ada.locator('td.points').innerText(), String(POINTS));
    await detail.getByRole('button', { name: 'This week' }).click();
    await detail.locator('[data-board-range]', { hasText: ' to ' }).waitFor();

    const post = detail.locator('[data-group-feed] article.post');
    await post.first().waitFor();
    assert.match(await post.first().innerText(), /Ada · Run 5 km before work/);
    await shot('04-group-open-1280');
    assert.deepEqual(await overflow(page), { page: 0, tabs: 0 });

    // The Feed tab's group filter: this group's posts, or all of them.
    await page.getByRole('link', { name: 'Feed', exact: true }).click();
    await page.locator('#feed').getByLabel('Group').selectOption({ label: 'Morning runners' });
    await page.locator('#feed article.post', { hasText: 'Run 5 km before work' }).waitFor();
    assert.equal(await page.locator('#feed article.post').count(), 1);
  });

  test('assigning a task to someone in two groups names the group in the People form', async () => {
    await page.getByRole('link', { name: /People/ }).click();
    const form = page.locator('#task-form');
    await form.getByLabel('Person').selectOption({ label: 'Bob' });
    const group = form.getByLabel('Group');
    await group.waitFor(); // shown: the deployment has two groups, Bob is in both
    await form.getByLabel('Task').fill('Stretch for ten minutes');
    await form.getByLabel('Due').fill('2031-06-01T07:30');
    await group.selectOption({ label: 'Morning runners' });
    await form.getByRole('button', { name: 'Assign task' }).click();
    await page.getByText(/Assigned “Stretch for ten minutes” to Bob/).waitFor();
    const tasks = (await api('GET', `/tasks?user_id=${people.Bob}`)).items as {
      description: string;
      group_id: number;
    }[];
    const stretch = tasks.find((task) => task.description === 'Stretch for ten minutes');
    assert.equal(stretch?.group_id, groupId);
  });

  test('on a 390 px phone: the group and a review fit, and a proof is rejected with a reason', async () => {
    const review = await adaProves('Swim 20 lengths');
    const phone = await openPage(
      dashboard.browser,
      { ...phoneScreen, timezoneId: TIMEZONE, locale: 'en-GB' },
      pageErrors,
    );
    try {
      await dashboard.signIn(phone, '#groups');
      await phone
        .locator(`[data-group-list] tr[data-group-id="${groupId}"]`)
        .getByRole('button', { name: 'Morning runners' })
        .click();
      await phone
        .locator(`[data-open-group] [data-group-board] tr[data-user-id="${people.Ada}"]`)
        .waitFor();
      await phone.locator('[data-open-group] [data-group-feed] article.post').first().waitFor();
      assert.deepEqual(await overflow(phone), { page: 0, tabs: 0 }, 'nothing hidden sideways');
      await shot('05-group-open-390', phone);

      await phone.getByRole('link', { name: 'Reviews', exact: true }).click();
      const card = phone.locator(`article.review-card[data-review-id="${review.id}"]`);
      await card.waitFor();
      assert.deepEqual(await overflow(phone), { page: 0, tabs: 0 });
      await shot('06-reviews-pending-390', phone);
      await card.getByLabel('Reason to reject').fill('The photo shows a bathtub, not a pool');
      await card.getByRole('button', { name: 'Reject' }).click();
      await card.waitFor({ state: 'detached' });
      const rejected = (await api('GET', `/reviews?group_id=${groupId}&status=rejected`))
        .items as Review[];
      assert.deepEqual(
        rejected.map((r) => [r.id, r.reason, r.decided_by]),
        [[review.id, 'The photo shows a bathtub, not a pool', 'admin']],
      );
      assert.equal((await api('GET', `/tasks/${review.task_id}`)).status, 'active');
      assert.equal((await api('GET', `/tasks/${approvedTask}`)).status, 'completed');
      await phone
        .getByText('No proof is waiting for review. Groups with review “peer” or “model” ask here.')
        .waitFor();
      await shot('07-reviews-empty-390', phone);
    } finally {
      await phone.context().close();
    }
  });

  test('no page raised a script error', () => {
    assert.deepEqual(pageErrors, []);
  });
});
