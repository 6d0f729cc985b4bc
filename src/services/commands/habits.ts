import { cancelHabit, deleteHabit, findHabitById, reactivateHabit } from '../../db/habits.js';
import { effectsOfMessage } from '../../db/command-effects.js';
import { setHabitGroup } from '../../db/groups.js';
import { reactivateCancelledTask } from '../../db/own-tasks.js';
import { deletePause, pausedTaskIds } from '../../db/pauses.js';
import { firstOccurrenceOf, nextOccurrence, ruleOf, splitHabitText } from '../../domain/habit.js';
import { DESCRIPTION_MAX_LENGTH } from '../../domain/task.js';
import {
  DEFAULT_PAUSE_MAX_DAYS_PER_30,
  activeHabitsOfUser,
  createHabit,
  pausePerson,
  resumePerson,
  rewindHabits,
  withStreaks,
} from '../habits.js';
import { groupTexts } from '../group-texts.js';
import { chooseGroup } from '../groups.js';
import { habitTexts } from '../habit-texts.js';
import { registerCancelList } from './cancel.js';
import type { Command, CommandContext } from './command.js';
import { recordCommandEffect, registerUndo } from './undo.js';

/**
 * `habit`, `habits`, `streak`, `pause`, `resume`, and `cancel h<n>` (see cancelNthHabit):
 * recurring tasks people set themselves. Habit numbers carry an `h` (`h1`, `h2`) so that
 * `cancel 2` (the second of `tasks`) and `cancel h2` (the second of `habits`) never mix.
 */

const HABIT_USAGE = 'habit <what> <schedule>';
export const habitCommand: Command = {
  name: 'habit',
  usage: HABIT_USAGE,
  summary: 'a recurring task, e.g. "habit Gym every mon wed fri at 7am"',
  async run(context, args) {
    // `habit … in Runners`: one of the person's groups; none named and several: ask which.
    const choice = await chooseGroup(context.tx, context.user.id, args);
    if (choice.outcome === 'ask') return groupTexts.whichGroup(`habit ${args}`, choice.groups);
    const split = splitHabitText(choice.text);
    if (!split || split.description.length === 0) return habitTexts.usage();
    const result = await createHabit(context.tx, {
      userId: context.user.id,
      description: split.description.slice(0, DESCRIPTION_MAX_LENGTH),
      scheduleText: split.scheduleText,
      schedule: split.schedule,
      timeZone: context.timeZone,
      points: context.pointsPerTask,
      messageId: context.message.id,
      now: context.now,
      offsets: context.reminderOffsets,
    });
    if (!result) return habitTexts.usage();
    if (result.created && choice.group) {
      await setHabitGroup(context.tx, result.habit.id, choice.group.id);
    }
    await recordCommandEffect(context.tx, {
      userId: context.user.id,
      messageId: context.message.id,
      kind: 'habit',
      refId: result.habit.id,
      at: context.now,
    });
    const habits = await activeHabitsOfUser(context.tx, context.user.id);
    const number = habits.findIndex((habit) => habit.id === result.habit.id) + 1;
    // The round it started with, not next_due_at: that is next week's once this week's exists.
    const first = firstOccurrenceOf(result.habit);
    return habitTexts.created(number, result.habit, result.habit.time_zone, first);
  },
};

export const habitsCommand: Command = {
  name: 'habits',
  usage: 'habits',
  summary: 'your habits, numbered h1, h2 …, with their streaks',
  async run({ tx, user }) {
    const habits = await withStreaks(tx, await activeHabitsOfUser(tx, user.id));
    return habits.length === 0 ? habitTexts.none() : habitTexts.list(habits);
  },
};

export const streakCommand: Command = {
  name: 'streak',
  aliases: ['streaks'],
  usage: 'streak',
  summary: 'your current and best streak of each habit',
  async run({ tx, user }) {
    const habits = await withStreaks(tx, await activeHabitsOfUser(tx, user.id));
    return habits.length === 0 ? habitTexts.none() : habitTexts.streaks(habits);
  },
};

export const pauseCommand: Command = {
  name: 'pause',
  usage: 'pause <n> days | pause until <date>',
  summary: 'no reminders and no expiry for a while; streaks are kept',
  async run(context, args) {
    const max = context.pauseMaxDaysPer30 ?? DEFAULT_PAUSE_MAX_DAYS_PER_30;
    const result = await pausePerson(context.tx, {
      userId: context.user.id,
      args,
      zone: context.timeZone,
      now: context.now,
      messageId: context.message.id,
      maxDaysPer30: max,
    });
    if (result.outcome === 'bad_request') return habitTexts.pauseUsage(max);
    if (result.outcome === 'limit') return habitTexts.pauseLimit(result.allowed, result.max);
    await recordCommandEffect(context.tx, {
      userId: context.user.id,
      messageId: context.message.id,
      kind: 'pause',
      refId: result.pause.id,
      at: context.now,
    });
    return habitTexts.paused(result.days, result.pause.last_day);
  },
};

export const resumeCommand: Command = {
  name: 'resume',
  usage: 'resume',
  summary: 'ends a pause',
  async run(context) {
    const pause = await resumePerson(context.tx, {
      userId: context.user.id,
      zone: context.timeZone,
      now: context.now,
      offsets: context.reminderOffsets,
    });
    return pause ? habitTexts.resumed() : habitTexts.notPaused();
  },
};

/**
 * `cancel h<n>`: cancels the n-th habit of `habits` (the `cancel` command reads the `h`).
 * The same message processed again answers with the habit it cancelled the first time.
 */
async function cancelNthHabit(context: CommandContext, n: number): Promise<string> {
  const { tx, user, message, now } = context;
  const earlier = (await effectsOfMessage(tx, message.id)).find((e) => e.kind === 'habit_cancel');
  const earlierHabit = earlier ? await findHabitById(tx, earlier.ref_id) : null;
  if (earlierHabit) return habitTexts.cancelled(earlierHabit);
  const habits = await activeHabitsOfUser(tx, user.id);
  const habit = habits[n - 1];
  const cancelled = habit ? await cancelHabit(tx, habit.id, now) : null;
  if (!cancelled) return habitTexts.noSuchHabit(`h${n}`, habits.length);
  await recordCommandEffect(tx, {
    userId: user.id,
    messageId: message.id,
    kind: 'habit_cancel',
    refId: cancelled.id,
    at: now,
  });
  return habitTexts.cancelled(cancelled);
}

registerCancelList('h', cancelNthHabit);

registerUndo('habit', async (tx, refId) => {
  const habit = await deleteHabit(tx, refId);
  return habit ? habitTexts.undoneHabit(habit.description) : habitTexts.undoGone();
});

registerUndo('habit_cancel', async (tx, refId, context) => {
  const habit = await findHabitById(tx, refId);
  if (!habit) return habitTexts.undoGone();
  const back = await reactivateHabit(tx, refId, nextOccurrence(ruleOf(habit), context.now));
  if (!back) return habitTexts.undoGone();
  await rewindHabits(tx, habit.user_id, context.now, context.reminderOffsets);
  return habitTexts.undoneCancel(habit.description);
});

registerUndo('pause', async (tx, refId, context) => {
  const schedule = { offsets: context.reminderOffsets, now: context.now };
  const taskIds = await pausedTaskIds(tx, refId, context.now);
  const pause = await deletePause(tx, refId);
  if (!pause) return habitTexts.undoGone();
  for (const taskId of taskIds) await reactivateCancelledTask(tx, taskId, schedule);
  await rewindHabits(tx, pause.user_id, context.now, context.reminderOffsets);
  return habitTexts.undonePause();
});
