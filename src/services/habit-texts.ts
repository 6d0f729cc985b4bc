import {
  type HabitRow,
  type Occurrence,
  SCHEDULE_EXAMPLES,
  describeSchedule,
} from '../domain/habit.js';
import type { HabitWithStreaks, RoundProgress } from './habits.js';
import { formatDueTime } from './reply-texts.js';

/** What Taskwire answers to `habit`, `habits`, `streak`, `pause`, `resume`, `cancel h<n>`. */

const unit = (habit: Pick<HabitRow, 'weekly_quota'>, n: number) =>
  habit.weekly_quota === null ? `${n} in a row` : `${n} week${n === 1 ? '' : 's'} in a row`;

/** `Sun`, `Mon 7 Dec`: the local day of `at`, for a round's first and last day. */
const localDay = (at: Date, zone: string, withDate: boolean) =>
  new Intl.DateTimeFormat('en-GB', {
    weekday: 'short',
    ...(withDate ? { day: 'numeric', month: 'short' } : {}),
    timeZone: zone,
  })
    .format(at)
    .replace(',', '');

/**
 * A quota's first round, as the `habit` reply states it: the week it was set in when enough
 * days are left (its occurrences exist already, a photo counts now), else next week's.
 */
function firstRoundText(habit: HabitRow, round: Occurrence, zone: string): string {
  const due = `${localDay(round.dueAt, zone, false)} ${formatDueTime(round.dueAt, zone)}`;
  return round.opensAt <= habit.created_at
    ? ` This week counts: ${habit.weekly_quota} by ${due}.`
    : ` Too few days are left this week, so the first round starts ` +
        `${localDay(round.opensAt, zone, true)}; it is due ${due}.`;
}

export const habitTexts = {
  usage: () =>
    `Write the habit, then its schedule, e.g. "habit Read 20 pages every day at 21:00", ` +
    `"habit Gym every mon wed fri at 7am", "habit Meditate weekdays 8:00" or ` +
    `"habit Run 3 times a week". Schedules: ${SCHEDULE_EXAMPLES}.`,
  /** `first`: the occurrence the habit started with (firstOccurrenceOf), not `next_due_at`. */
  created: (number: number, habit: HabitRow, zone: string, first: Occurrence | null) =>
    `🔁 Habit h${number}: "${habit.description}", ${describeSchedule(habit)} (${zone}).` +
    (habit.weekly_quota !== null && first ? firstRoundText(habit, first, zone) : '') +
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
  streakAfterProof: (habit: HabitRow, current: number, best: number, round: RoundProgress | null) =>
    (round === null
      ? ''
      : round.done >= round.quota
        ? ` This week: ${round.quota} of ${round.quota} done, so it counts.`
        : ` This week: ${round.done} of ${round.quota} done, ${round.quota - round.done} to go; ` +
          `it counts for the streak once all ${round.quota} are done.`) +
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
