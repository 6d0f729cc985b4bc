/**
 * The admin inbox in a real browser (Chromium through playwright-core) against the real
 * service on PGlite with the fake Twilio, at a laptop's 1280×800 and a phone's 390×844: a
 * WhatsApp message appears in the open page by itself (Server-Sent Events, no Refresh),
 * the admin opens the conversation and replies, and the reply's delivery shows there too.
 * The header stays one row on the phone. Screenshots go to test-artifacts/inbox/.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { artifactsDir, browserSkip as skip, openPage, screenshot } from './helpers/browser.js';
import { dashboardInBrowser } from './helpers/dashboard-browser.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';

interface Box {
  top: number;
  bottom: number;
}
declare const Array: { from<T>(list: Iterable<T> | ArrayLike<T>): T[] };
declare const document: {
  querySelector(selector: string): { getBoundingClientRect(): Box } | null;
  querySelectorAll(selector: string): { getBoundingClientRect(): Box }[];
  documentElement: { scrollWidth: number; clientWidth: number };
};

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800, phone: '+15550200001', person: 'Ada Lovelace' },
  { name: 'phone', width: 390, height: 844, phone: '+15550200002', person: 'Grace Hopper' },
];

describe('the admin inbox in a real browser [pglite]', { skip }, () => {
  const dashboard = dashboardInBrowser({ whatsappNumber: GROUP_NUMBER });
  const { api, signIn } = dashboard;
  const artifacts = artifactsDir('inbox');
  const pageErrors: string[] = [];
  const shot = (page: Page, name: string) => screenshot(page, artifacts, name);

  /** A WhatsApp text from `from`. */
  const deliver = (from: string, body: string) =>
    dashboard.deliver(whatsAppParams({ from, to: GROUP_NUMBER, body }));

  test('the inbox with nothing in it says how messages get here', async () => {
    const page = await openPage(
      dashboard.browser,
      { viewport: { width: 1280, height: 800 } },
      pageErrors,
    );
    await signIn(page, '#messages');
    const empty = page.locator('.inbox-empty');
    await empty.waitFor();
    const text = await empty.innerText();
    assert.match(
      text,
      new RegExp(`${dashboard.baseUrl}/webhook/twilio`),
      'the webhook URL to paste',
    );
    assert.match(text, /taskwire simulate/);
    await shot(page, 'empty');
    await page.context().close();
  });

  for (const viewport of VIEWPORTS) {
    test(`${viewport.name} ${viewport.width}×${viewport.height}: a message appears live, the admin replies`, async () => {
      await api('POST', '/users', { username: viewport.person, phone_number: viewport.phone });
      const page = await openPage(
        dashboard.browser,
        { viewport: { width: viewport.width, height: viewport.height }, locale: 'en-GB' },
        pageErrors,
      );
      let loads = 0;
      page.on('load', () => (loads += 1));
      await signIn(page, '#messages');
      await page.locator('#live-status[data-state="on"]').waitFor();

      // One row: every item of the header shares the brand's line, and nothing scrolls sideways.
      const header = await page.evaluate(() => {
        const bar = document.querySelector('.top-bar-inner') as { getBoundingClientRect(): Box };
        const items = Array.from(
          document.querySelectorAll(
            '.top-bar-inner > .brand, .top-bar-inner > #nav, .top-bar-inner > #live-status, .top-bar-inner > #change-token',
          ),
        );
        return {
          height: bar.getBoundingClientRect().bottom - bar.getBoundingClientRect().top,
          tops: items.map((item) => Math.round(item.getBoundingClientRect().top)),
          bottoms: items.map((item) => Math.round(item.getBoundingClientRect().bottom)),
          overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          tabsHidden: (() => {
            const nav = document.querySelector('#nav') as unknown as {
              scrollWidth: number;
              clientWidth: number;
            };
            return nav.scrollWidth - nav.clientWidth;
          })(),
        };
      });
      const firstBottom = Math.min(...header.bottoms);
      assert.ok(
        header.tops.every((top) => top < firstBottom),
        `header items on one row: tops ${header.tops.join(',')}, bottoms ${header.bottoms.join(',')}`,
      );
      assert.ok(header.height < 64, `header height ${header.height}`);
      assert.equal(header.overflow, 0, 'the page does not scroll sideways');
      assert.ok(header.tabsHidden <= 0, `every tab in sight (${header.tabsHidden}px hidden)`);

      // The message arrives while the page is open: no Refresh, no reload.
      const text = `Ran 5 km along the river (${viewport.name})`;
      await deliver(viewport.phone, text);
      const item = page.locator('.conversation', { hasText: viewport.person });
      await item.filter({ hasText: text }).waitFor();
      assert.equal(loads, 1, 'the page was not reloaded');
      assert.equal(
        await page.locator('.conversation').first().locator('.conversation-name').innerText(),
        viewport.person,
        'newest activity first',
      );
      await shot(page, `${viewport.name}-1-live`);

      await item.click();
      const thread = page.locator('[data-thread]');
      await thread.getByRole('heading', { name: viewport.person }).waitFor();
      await thread.locator('.message-body', { hasText: text }).waitFor();
      assert.equal(await page.getByLabel('Send by').inputValue(), 'whatsapp', 'window open');

      const answer = `Great run, ${viewport.person.split(' ')[0]}!`;
      await page.getByLabel('Reply', { exact: true }).fill(answer);
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.locator('[data-reply-outcome][data-state="ok"]').waitFor();
      // Sent through the fake Twilio; its delivery status comes back live.
      await waitFor(async () =>
        dashboard.twilio.messageRequests.some(
          (r) => r.params.Body === answer && r.params.To === `whatsapp:${viewport.phone}`,
        ),
      );
      const sent = thread.locator('.outgoing', { hasText: answer });
      await sent.waitFor();
      await waitFor(async () =>
        /Reply (sent|delivered|queued|accepted)/.test(
          await page.locator('[data-reply-outcome]').innerText(),
        ),
      );
      await sent
        .locator(
          '.badge.status-sent, .badge.status-delivered, .badge.status-queued, .badge.status-accepted',
        )
        .waitFor();
      await shot(page, `${viewport.name}-2-replied`);
      assert.equal(loads, 1, 'still the same page');
      await page.context().close();
    });
  }

  test('people are edited and deleted in place; deleting asks first', async () => {
    const created = await api('POST', '/users', {
      username: 'Katherine Johnson',
      phone_number: '+15550200003',
    });
    const task = await api('POST', '/tasks', {
      user_id: created.id,
      description: 'Check the launch window',
      due_time: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const page = await openPage(
      dashboard.browser,
      { viewport: { width: 1280, height: 800 } },
      pageErrors,
    );
    await signIn(page, '#people');
    const row = page.locator(`[data-users] tr[data-user-id="${created.id as number}"]`);
    await row.getByRole('button', { name: 'Edit Katherine Johnson' }).click();
    await row.getByLabel('Name').fill('Katherine Goble');
    await row.getByRole('button', { name: 'Save' }).click();
    await row.locator('td', { hasText: 'Katherine Goble' }).first().waitFor();
    assert.equal((await api('GET', `/users/${created.id as number}`)).username, 'Katherine Goble');

    // A task the same way: Keep as it was gives the row back, Save changes it.
    const taskRow = page.locator(`[data-tasks] tr[data-task-id="${task.id as number}"]`);
    const editTask = taskRow.getByRole('button', { name: 'Edit task “Check the launch window”' });
    await editTask.click();
    await taskRow.getByRole('button', { name: 'Keep as it was' }).click();
    await editTask.click();
    await taskRow.getByLabel('Task', { exact: true }).fill('Check the launch window twice');
    await taskRow.getByRole('button', { name: 'Save' }).click();
    await taskRow.locator('td', { hasText: 'Check the launch window twice' }).first().waitFor();
    assert.equal(
      (await api('GET', `/tasks/${task.id as number}`)).description,
      'Check the launch window twice',
    );

    // Words stay whole in the table cells: only long tokens may break anywhere.
    const wrapping = await page.evaluate(() => {
      const cell = document.querySelector('[data-users] td') as unknown as object;
      const style = (
        globalThis as unknown as {
          getComputedStyle(e: object): { overflowWrap: string; wordBreak: string };
        }
      ).getComputedStyle(cell);
      return { overflowWrap: style.overflowWrap, wordBreak: style.wordBreak };
    });
    assert.deepEqual(wrapping, { overflowWrap: 'break-word', wordBreak: 'normal' });

    await row.getByRole('button', { name: 'Delete Katherine Goble' }).click();
    const question = row.getByRole('alertdialog', { name: 'Delete Katherine Goble?' });
    await question.waitFor();
    assert.match(await question.innerText(), /removed for good/);
    await shot(page, 'people-delete-asks');
    await question.getByRole('button', { name: 'Keep them' }).click();
    await row.getByRole('button', { name: 'Delete Katherine Goble' }).click();
    await row.getByRole('button', { name: 'Delete Katherine Goble', exact: true }).last().click();
    await row.waitFor({ state: 'detached' });
    const users = (await api('GET', '/users')).items as { id: number }[];
    assert.ok(!users.some((user) => user.id === created.id), 'deleted');
    await page.context().close();
  });

  test('no script errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
