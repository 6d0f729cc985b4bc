/**
 * Habits in the dashboard, in a real browser (Chromium through playwright-core) against the
 * real service on PGlite with the fake Twilio: an admin gives Ada a daily habit, Ada proves
 * today's occurrence with a WhatsApp photo and pauses by WhatsApp, and "People and tasks"
 * shows the habit with its streak, the occurrence's habit on the task, Ada's zone and
 * pause; the leaderboard shows the streak. Screenshots go to test-artifacts/dashboard/.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { artifactsDir, browserSkip as skip, openPage, screenshot } from './helpers/browser.js';
import { dashboardInBrowser } from './helpers/dashboard-browser.js';
import { makePng } from './helpers/png.js';
import { whatsAppParams } from './helpers/twilio-webhook.js';
import { waitFor } from './helpers/worker.js';

const GROUP_NUMBER = '+14155238886';
const PHONE = '+15550002222';

/**
 * A zone where today still has an hour left: the habit (due 23:59 local) then has today's
 * occurrence open for the photo, whenever the test runs.
 */
function zoneWithTimeLeftToday(): string {
  for (const zone of ['Europe/Paris', 'America/New_York', 'Asia/Tokyo', 'Pacific/Auckland']) {
    const hour = Number(
      new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' })
        .formatToParts(new Date())
        .find((part) => part.type === 'hour')?.value,
    );
    if (hour < 22) return zone;
  }
  throw new Error('no zone with an hour left today');
}

describe('habits and streaks in the dashboard [pglite]', { skip }, () => {
  const dashboard = dashboardInBrowser({ whatsappNumber: GROUP_NUMBER });
  const { api, deliver } = dashboard;
  let page: Page;
  const pageErrors: string[] = [];
  const zone = zoneWithTimeLeftToday();

  before(async () => {
    page = await openPage(
      dashboard.browser,
      { viewport: { width: 1280, height: 900 }, timezoneId: 'Europe/Paris', locale: 'en-GB' },
      pageErrors,
    );
  });

  const artifacts = artifactsDir('dashboard');
  const shot = (name: string) => screenshot(page, artifacts, name);

  test('a habit proved by WhatsApp shows its streak, its task, and the person’s pause', async () => {
    const ada = await api('POST', '/users', {
      username: 'Ada',
      phone_number: PHONE,
      timezone: zone,
    });
    const habit = await api('POST', '/habits', {
      user_id: ada.id,
      description: 'Meditate',
      schedule: 'every day',
    });
    const tasks = (await api('GET', `/tasks?user_id=${ada.id as number}`)).items as {
      id: number;
      habit_id: number | null;
      status: string;
    }[];
    assert.equal(tasks.length, 1, 'today’s occurrence is open');
    const occurrence = tasks[0] as (typeof tasks)[number];
    assert.equal(occurrence.habit_id, habit.id);

    // Ada proves it with a photo, then pauses two days: both by WhatsApp.
    const photo = dashboard.twilio.addMedia({ bytes: makePng(120, 90), contentType: 'image/png' });
    await deliver(
      whatsAppParams({
        from: PHONE,
        to: GROUP_NUMBER,
        body: 'Done for today',
        messageSid: photo.messageSid,
        media: [{ url: photo.url, contentType: 'image/png' }],
      }),
    );
    await waitFor(
      async () => (await api('GET', `/tasks/${occurrence.id}`)).status === 'completed',
      20_000,
    );
    await deliver(
      whatsAppParams({
        from: PHONE,
        to: GROUP_NUMBER,
        body: 'pause 2 days',
        messageSid: `SM${'7'.repeat(32)}`,
      }),
    );
    await waitFor(async () => (await api('GET', `/users/${ada.id as number}`)).pause !== null);

    await dashboard.signIn(page);
    await page.getByRole('heading', { name: 'Feed', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'People and tasks', exact: true }).click();

    // The habit, with its schedule in words, its zone and a streak of 1.
    const habitRow = page.locator(`[data-habits] tr[data-habit-id="${habit.id as number}"]`);
    await habitRow.waitFor();
    assert.match(await habitRow.innerText(), /Meditate/);
    assert.match(await habitRow.innerText(), /Ada/);
    assert.match(await habitRow.innerText(), new RegExp(`every day at 23:59 \\(${zone}\\)`));
    const streak = habitRow.locator('td.streak');
    assert.equal(await streak.innerText(), '1 in a row (best 1)');
    assert.equal(await streak.getAttribute('data-current'), '1');

    // The occurrence says which habit it belongs to.
    const taskRow = page.locator(`[data-tasks] tr[data-task-id="${occurrence.id}"]`);
    assert.match(
      await taskRow.locator('.habit-of-task').innerText(),
      /^Habit: Meditate · streak 1 in a row \(best 1\)$/,
    );
    assert.equal(await taskRow.getAttribute('data-status'), 'completed');

    // Ada's zone (her own setting) and her pause.
    const person = page.locator(`[data-users] tr[data-user-id="${ada.id as number}"]`);
    assert.match(await person.innerText(), new RegExp(`${zone} \\(own setting\\)`));
    const pause = (await api('GET', `/users/${ada.id as number}`)).pause as { last_day: string };
    assert.match(await person.innerText(), new RegExp(`Paused through ${pause.last_day}`));
    await shot('20-habits-people');

    await page.getByRole('link', { name: 'Leaderboard', exact: true }).click();
    const entry = page.locator(`tr[data-user-id="${ada.id as number}"] td.streak`);
    await entry.waitFor();
    assert.equal(await entry.innerText(), '1 (best 1)');
    await shot('21-habits-leaderboard');
    assert.deepEqual(pageErrors, []);
  });
});
