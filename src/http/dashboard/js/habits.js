// Habits on "People and tasks": each habit with its schedule and streaks, the habit of each
// task that is one of its occurrences, and a person's zone and pause.
import { api } from './api.js';
import { emptyState, formatDateTime, h, replace, statusBadge } from './dom.js';

let habits = [];

/** The habits of the last load, by id. */
export const habitById = (id) => habits.find((habit) => habit.id === id) ?? null;

/** `2 in a row (best 5)`, or weeks for a weekly quota. */
export function streakText(habit) {
  const unit = habit.weekly_quota === null ? '' : habit.current_streak === 1 ? ' week' : ' weeks';
  return `${habit.current_streak}${unit} in a row (best ${habit.best_streak})`;
}

/** What a task cell says under an occurrence's description: its habit and streak. */
export function habitOfTask(task) {
  if (task.habit_id === null || task.habit_id === undefined) return null;
  const habit = habitById(task.habit_id);
  return h(
    'span',
    { class: 'habit-of-task', dataset: { habitId: task.habit_id } },
    habit ? `Habit: ${habit.description} · streak ${streakText(habit)}` : `Habit ${task.habit_id}`,
  );
}

const ZONE_SOURCES = { set: 'own setting', phone: 'from phone number', default: 'TZ default' };

/** A person's zone in effect and where it comes from. */
export function zoneCell(user) {
  if (!user.zone_in_effect) return user.timezone ?? '—';
  return h(
    'span',
    { dataset: { zoneSource: user.zone_source } },
    user.zone_in_effect,
    h('span', { class: 'muted' }, ` (${ZONE_SOURCES[user.zone_source] ?? user.zone_source})`),
  );
}

/** The pause in force: its last local day, or "—". */
export function pauseCell(user) {
  if (!user.pause) return '—';
  return h(
    'span',
    { dataset: { pausedUntil: user.pause.last_day } },
    `Paused through ${user.pause.last_day}`,
  );
}

/** Loads every habit (of up to 100) and shows them in `[data-habits]`. */
export async function loadHabits(section, usernameOf) {
  const page = await api('/habits?limit=100');
  habits = page.items;
  replace(
    section.querySelector('[data-habits]'),
    habits.length === 0
      ? emptyState('No habits yet. People start them by WhatsApp: "habit Gym every mon at 7am".')
      : h(
          'table',
          { class: 'table stacked' },
          h('caption', { class: 'visually-hidden' }, 'Habits'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Habit', 'Person', 'Schedule', 'Streak', 'Next due', 'Status'].map((label) =>
                h('th', { scope: 'col' }, label),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            habits.map((habit) =>
              h(
                'tr',
                { dataset: { habitId: habit.id, status: habit.status } },
                h('td', { 'data-label': 'Habit' }, habit.description),
                h('td', { 'data-label': 'Person' }, usernameOf(habit.user_id)),
                h(
                  'td',
                  { 'data-label': 'Schedule' },
                  habit.schedule_summary,
                  h('span', { class: 'muted' }, ` (${habit.time_zone})`),
                ),
                h(
                  'td',
                  {
                    'data-label': 'Streak',
                    class: 'streak',
                    dataset: { current: habit.current_streak, best: habit.best_streak },
                  },
                  streakText(habit),
                ),
                h(
                  'td',
                  { 'data-label': 'Next due' },
                  habit.next_due_at
                    ? h('time', { datetime: habit.next_due_at }, formatDateTime(habit.next_due_at))
                    : '—',
                ),
                h('td', { 'data-label': 'Status' }, statusBadge(habit.status)),
              ),
            ),
          ),
        ),
  );
}
