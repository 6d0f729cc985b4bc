import { type HabitRow, SCHEDULE_EXAMPLES, describeSchedule } from '../domain/habit.js';
import type { HabitWithStreaks } from './habits.js';
import { formatDueTime } from './reply-texts.js';

/** What Taskwire answers to `habit`, `habits`, `streak`, `pause`, `resume`, `cancel h<n>`. */

const unit = (habit: Pick<HabitRow, 'weekly_quota'>, n: number) =>
  habit.weekly_quota === null ? `${n} in a row` : `${n} week${n === 1 ? '' : 's'} in a row`;

export const habitTexts = {
  usage: () =>
    `Write the habit, then its schedule, e.g. "habit Read 20 pages every day at 21:00", ` +
    `"habit Gym every mon wed fri at 7am", "habit Meditate weekdays 8:00" or ` +
    `"habit Run 3 times a week". Schedules: ${SCHEDULE_EXAMPLES}.`,
  created: (number: number, habit: HabitRow, zone: string) =>
    `🔁 Habit h${number}: "${habit.description}", ${describeSchedule(habit)} (${zone}).` +
    (habit.weekly_quota !== null && habit.next_due_at
      ? ` This round is due ${formatDueTime(habit.next_due_at, zone)}.`
      : '') +
    ' Send a photo each time it is done. Reply "undo" within 10 minutes to remove it.',
  none: () => `You have no habits yet. Start one: "habit Read 20 pages every day at 21:00".`,
  list: (habits: readonly HabitWithStreaks[]) =>
    'Your habits:\n' +
    habits
      .map(
        (habit, i) =>
          `h${i + 1}. ${habit.description}: ${describeSchedule(habit)}; streak ` +
          `${unit(habit, habit.current_streak)} (best ${habit.best_streak})`,
      )
      .join('\n') +
    '\nCancel one with "cancel h<n>".',
  streaks: (habits: readonly HabitWithStreaks[]) =>
    habits
      .map(
        (habit) =>
          `🔥 ${habit.description}: ${unit(habit, habit.current_streak)} (best ${habit.best_streak})`,
      )
      .join('\n'),
  streakAfterProof: (habit: HabitRow, current: number, best: number) =>
    ` 🔥 "${habit.description}" streak: ${unit(habit, current)}` +
    (best > current ? ` (best ${best}).` : current > 1 ? ', your best yet!' : '.'),
  noSuchHabit: (ref: string, count: number) =>
    count === 0
      ? habitTexts.none()
      : `There is no habit ${ref}: your habits are h1 to h${count} (send "habits" to see them).`,
  cancelled: (habit: HabitRow) =>
    `Cancelled the habit "${habit.description}"; its open occurrences are gone. ` +
    'Reply "undo" within 10 minutes to bring it back.',
  pauseUsage: (max: number) =>
    `Write "pause 3 days" or "pause until friday" (at most ${max} paused days in any 30), ` +
    'and "resume" to end a pause early.',
  paused: (days: number, lastDay: string) =>
    `⏸️ Paused for ${days} day${days === 1 ? '' : 's'}, through ${lastDay}: no reminders, ` +
    'nothing expires, and your streaks are kept. Send "resume" to start again sooner.',
  pauseLimit: (allowed: number, max: number) =>
    `That is more than ${max} paused days in 30, so I did not pause. ` +
    (allowed > 0
      ? `You can pause ${allowed} more day${allowed === 1 ? '' : 's'} now, e.g. "pause ${allowed} days".`
      : 'You have no paused days left for now.'),
  notPaused: () => 'You are not paused. Pause with "pause 3 days" or "pause until friday".',
  resumed: () => '▶️ Welcome back: reminders are on again and your habits continue.',
  undoneHabit: (description: string) => `Undone: the habit "${description}" is removed.`,
  undoneCancel: (description: string) => `Undone: the habit "${description}" is back.`,
  undonePause: () => 'Undone: the pause is lifted.',
  undoGone: () => 'That was already gone.',
};
