import * as chrono from 'chrono-node';
import type { Queryable } from '../db/executor.js';
import {
  advanceHabit,
  cancelHabit,
  claimHabitDue,
  findHabitById,
  habitsOfUser,
  habitsOfUsers,
  insertHabit,
  insertOccurrence,
  listHabits,
  moveHabitToGroup,
  occurrenceOutcomes,
  updateHabit,
} from '../db/habits.js';
import { reactivateCancelledTask } from '../db/own-tasks.js';
import { endPause, insertPause, isPausedAt, pauseInForce, pausesSince } from '../db/pauses.js';
import type { PauseRow } from '../db/pauses.js';
import { findUserById } from '../db/users.js';
import { conflict, notFound, unprocessable, validationFailed } from '../domain/errors.js';
import {
  type HabitRow,
  type HabitSchedule,
  type Occurrence,
  type OccurrenceOutcome,
  type Streaks,
  computeStreaks,
  describeSchedule,
  firstOccurrence,
  nextOccurrence,
  parseScheduleOrThrow,
  ruleOf,
} from '../domain/habit.js';
import {
  type LocalDate,
  addDays,
  daysBetween,
  localDateOf,
  startOfLocalDay,
  wallTimeOf,
} from '../domain/local-time.js';
import { parseDescription } from '../domain/task.js';
import { checkTaskGroup, chooseHabitGroup } from './groups.js';
import { habitTexts } from './habit-texts.js';
import { personTimeZone } from './time-zones.js';

/** PAUSE_MAX_DAYS_PER_30: paused days a person may have in any 30 days. */
export const DEFAULT_PAUSE_MAX_DAYS_PER_30 = 14;

/** Most occurrences one habit is moved past in one go (a long downtime). */
const MAX_STEPS = 60;

export type HabitWithStreaks = HabitRow & { current_streak: number; best_streak: number };

/** Adds each habit's current and best streak. */
export async function withStreaks(
  db: Queryable,
  habits: readonly HabitRow[],
): Promise<HabitWithStreaks[]> {
  const outcomes = await occurrenceOutcomes(
    db,
    habits.map((habit) => habit.id),
  );
  return habits.map((habit) => {
    const { current, best } = computeStreaks(outcomes.get(habit.id) ?? [], habit.weekly_quota);
    return { ...habit, current_streak: current, best_streak: best };
  });
}

export async function streaksOfHabit(db: Queryable, habit: HabitRow): Promise<Streaks> {
  const outcomes = await occurrenceOutcomes(db, [habit.id]);
  return computeStreaks(outcomes.get(habit.id) ?? [], habit.weekly_quota);
}

/** How far a quota's round (one local week) is: occurrences completed of the quota. */
export interface RoundProgress {
  done: number;
  quota: number;
}

/**
 * The round a proof just counted in: the latest week with a completed occurrence. A photo
 * completes the earliest open occurrence, and a later week's only opens when its week
 * starts, so that is the proof's own week.
 */
function roundOfProof(
  outcomes: readonly OccurrenceOutcome[],
  quota: number | null,
): RoundProgress | null {
  if (quota === null) return null;
  const completed = outcomes.filter((outcome) => outcome.status === 'completed');
  const week = completed
    .map((outcome) => outcome.occurrence_date)
    .sort()
    .at(-1);
  if (week === undefined) return null;
  return { done: completed.filter((outcome) => outcome.occurrence_date === week).length, quota };
}

/**
 * The words a proof's reply ends with when it completed a habit's occurrence: for a quota,
 * how far this week's round is (one of three does not count for the streak yet), then the
 * streak.
 */
export async function streakAfterProof(db: Queryable, habitId: number): Promise<string> {
  const habit = await findHabitById(db, habitId);
  if (!habit) return '';
  const outcomes = (await occurrenceOutcomes(db, [habit.id])).get(habit.id) ?? [];
  const { current, best } = computeStreaks(outcomes, habit.weekly_quota);
  return habitTexts.streakAfterProof(
    habit,
    current,
    best,
    roundOfProof(outcomes, habit.weekly_quota),
  );
}

/**
 * Creates the occurrences of `habit` that have opened by `now` (its local day, or week,
 * has started) and moves it on to the next one. An occurrence already past due (the job
 * was down) or due within a pause is not created: neither counts for or against a streak.
 * Call with the habit locked (claimHabitDue) or just inserted.
 */
export async function openDueOccurrences(
  tx: Queryable,
  habit: HabitRow,
  now: Date,
  offsets: readonly number[],
): Promise<number> {
  const rule = ruleOf(habit);
  let next: Occurrence | null =
    habit.next_local_date && habit.next_due_at && habit.next_opens_at
      ? { localDate: habit.next_local_date, dueAt: habit.next_due_at, opensAt: habit.next_opens_at }
      : null;
  let created = 0;
  for (let step = 0; next && next.opensAt <= now && step < MAX_STEPS; step += 1) {
    if (next.dueAt > now && !(await isPausedAt(tx, habit.user_id, next.dueAt))) {
      created += (await insertOccurrence(tx, habit, next, { offsets, now })).length;
    }
    // After a downtime, go straight to the first occurrence still ahead.
    next = nextOccurrence(rule, next.dueAt > now ? next.dueAt : now);
  }
  await advanceHabit(tx, habit.id, next);
  return created;
}

/**
 * One step of the occurrence job: claims the next habit whose next occurrence has opened
 * and creates it. False when none is due.
 */
export async function openNextHabitDue(
  tx: Queryable,
  now: Date,
  offsets: readonly number[],
): Promise<boolean> {
  const habit = await claimHabitDue(tx, now);
  if (!habit) return false;
  await openDueOccurrences(tx, habit, now, offsets);
  return true;
}

export interface CreateHabitInput {
  userId: number;
  description: string;
  scheduleText: string;
  schedule: HabitSchedule;
  timeZone: string;
  points: number;
  messageId: number | null;
  now: Date;
  offsets: readonly number[];
  /** One of the owner's groups, already checked; null or absent: the database picks. */
  groupId?: number | null;
}

/**
 * Creates a habit and, when its first occurrence is already open (today's, this week's),
 * that occurrence too. A command's message processed again finds its habit.
 */
export async function createHabit(
  tx: Queryable,
  input: CreateHabitInput,
): Promise<{ habit: HabitRow; created: boolean } | null> {
  const anchor = localDateOf(input.now, input.timeZone);
  const first = firstOccurrence(
    {
      rrule: input.schedule.rrule,
      localTime: input.schedule.localTime,
      timeZone: input.timeZone,
      weeklyQuota: input.schedule.weeklyQuota,
      anchor,
    },
    input.now,
  );
  const result = await insertHabit(tx, {
    user_id: input.userId,
    description: input.description,
    schedule_text: input.scheduleText,
    rrule: input.schedule.rrule,
    local_time: input.schedule.localTime,
    time_zone: input.timeZone,
    weekly_quota: input.schedule.weeklyQuota,
    points: input.points,
    messageId: input.messageId,
    first,
    createdAt: input.now,
    group_id: input.groupId ?? null,
  });
  if (!result || !result.created) return result;
  await openDueOccurrences(tx, result.habit, input.now, input.offsets);
  return { habit: (await findHabitById(tx, result.habit.id)) ?? result.habit, created: true };
}

/** The person's habits as `habits` numbers them (h1, h2 ...): active ones, by id. */
export const activeHabitsOfUser = (db: Queryable, userId: number) =>
  habitsOfUser(db, userId, { activeOnly: true });

// --- The admin API -----------------------------------------------------------------------

export interface HabitDeps {
  db: Queryable;
  clock: () => Date;
  /** TZ: the zone of a person with none of their own and no single-zone country. */
  defaultTimezone: string;
  pointsPerTask: number;
  reminderOffsets: readonly number[];
}

/** A habit as the API shows it: with its streaks and its schedule in words. */
export type HabitForApi = HabitWithStreaks & { schedule_summary: string };

const forApi = (habit: HabitWithStreaks): HabitForApi => ({
  ...habit,
  schedule_summary: describeSchedule(habit),
});

export async function listHabitsWithStreaks(
  deps: Pick<HabitDeps, 'db'>,
  query: { userId: number | null; limit: number; offset: number },
): Promise<{ items: HabitForApi[]; total: number }> {
  const { items, total } = await listHabits(deps.db, query);
  return { items: (await withStreaks(deps.db, items)).map(forApi), total };
}

export async function getHabit(deps: Pick<HabitDeps, 'db'>, id: number): Promise<HabitForApi> {
  const habit = await findHabitById(deps.db, id);
  if (!habit) throw notFound(`No habit with id ${id}.`);
  const [withStreak] = await withStreaks(deps.db, [habit]);
  return forApi(withStreak ?? { ...habit, current_streak: 0, best_streak: 0 });
}

/** A time zone Intl knows, or a 400. */
function checkZone(zone: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone;
  } catch {
    throw validationFailed(`time_zone must be an IANA zone such as "Europe/Paris"; got "${zone}".`);
  }
}

/**
 * POST /habits: a habit for a person, on the schedule `habit` takes (a phrase or an
 * RRULE), in `time_zone` or else the person's zone, in `group_id` or else the person's
 * only group (chooseHabitGroup). Its first occurrence is created at once when its local
 * day (week) has already started, like a habit set by WhatsApp.
 */
export async function createHabitForApi(
  deps: HabitDeps,
  input: {
    user_id: number;
    description: string;
    schedule: string;
    time_zone?: string;
    points?: number;
    group_id?: number;
  },
): Promise<HabitForApi> {
  const description = parseDescription(input.description);
  const schedule = parseScheduleOrThrow(input.schedule);
  const user = await findUserById(deps.db, input.user_id);
  const noUser = () =>
    unprocessable(`No user with id ${input.user_id}; create the user first with POST /users.`);
  if (!user) throw noUser();
  const zone = checkZone(input.time_zone ?? personTimeZone(user, deps.defaultTimezone));
  const groupId = await chooseHabitGroup(deps.db, input.user_id, input.group_id);
  const result = await createHabit(deps.db, {
    userId: input.user_id,
    description,
    scheduleText: input.schedule.trim(),
    schedule,
    timeZone: zone,
    points: input.points ?? deps.pointsPerTask,
    messageId: null,
    now: deps.clock(),
    offsets: deps.reminderOffsets,
    groupId,
  });
  if (!result) throw noUser();
  return getHabit(deps, result.habit.id);
}

/**
 * PATCH /habits/{id}: description, points, schedule (phrase or RRULE), `group_id` (another
 * of the owner's groups: the habit and its open occurrences move, proofs already sent stay
 * where they were seen), or `status: cancelled` (its open occurrences are cancelled too).
 * Only an active habit changes.
 */
export async function updateHabitForApi(
  deps: HabitDeps,
  id: number,
  changes: {
    description?: string;
    schedule?: string;
    points?: number;
    group_id?: number;
    status?: 'cancelled';
  },
): Promise<HabitForApi> {
  const habit = await findHabitById(deps.db, id);
  if (!habit) throw notFound(`No habit with id ${id}.`);
  if (Object.values(changes).every((value) => value === undefined)) {
    throw validationFailed(
      'Nothing to change: send at least one of description, schedule, points, group_id, status ("cancelled").',
    );
  }
  if (habit.status !== 'active') {
    throw conflict(`Habit ${id} is ${habit.status}; only active habits can be changed.`);
  }
  const now = deps.clock();
  // Parse everything before writing anything: a bad schedule changes nothing.
  const description =
    changes.description !== undefined ? parseDescription(changes.description) : undefined;
  const groupId =
    changes.group_id !== undefined
      ? await checkTaskGroup(deps.db, Number(habit.user_id), changes.group_id)
      : null;
  let schedule;
  if (changes.schedule !== undefined) {
    const parsed = parseScheduleOrThrow(changes.schedule);
    const rule = {
      rrule: parsed.rrule,
      localTime: parsed.localTime,
      timeZone: habit.time_zone,
      weeklyQuota: parsed.weeklyQuota,
      anchor: localDateOf(habit.created_at, habit.time_zone),
    };
    // Occurrences already created keep their times; the next one follows the new rule.
    schedule = {
      schedule_text: changes.schedule.trim(),
      rrule: parsed.rrule,
      local_time: parsed.localTime,
      weekly_quota: parsed.weeklyQuota,
      first: nextOccurrence(rule, now),
    };
  }
  const updated = await updateHabit(deps.db, id, {
    ...(description !== undefined ? { description } : {}),
    ...(changes.points !== undefined ? { points: changes.points } : {}),
    ...(schedule ? { schedule } : {}),
  });
  if (!updated) throw notFound(`No habit with id ${id}.`);
  if (groupId !== null) await moveHabitToGroup(deps.db, id, groupId);
  if (changes.status === 'cancelled') await cancelHabit(deps.db, id, now);
  return getHabit(deps, id);
}

/**
 * Per person, for the leaderboard: the longest current streak among their active habits
 * and the best streak any of their habits reached. People without habits are absent.
 */
export async function streaksOfUsers(
  db: Queryable,
  userIds: readonly number[],
): Promise<Map<number, Streaks>> {
  const habits = await withStreaks(db, await habitsOfUsers(db, userIds));
  const byUser = new Map<number, Streaks>();
  for (const habit of habits) {
    const userId = Number(habit.user_id);
    const streaks = byUser.get(userId) ?? { current: 0, best: 0 };
    byUser.set(userId, {
      current:
        habit.status === 'active'
          ? Math.max(streaks.current, habit.current_streak)
          : streaks.current,
      best: Math.max(streaks.best, habit.best_streak),
    });
  }
  return byUser;
}

// --- Pauses ------------------------------------------------------------------------------

export type PauseOutcome =
  | { outcome: 'paused'; pause: PauseRow; days: number }
  | { outcome: 'limit'; allowed: number; max: number }
  | { outcome: 'bad_request' };

/** The days a pause covers, as local dates. */
function daysOf(first: LocalDate, last: LocalDate): LocalDate[] {
  const days: LocalDate[] = [];
  for (let day = first; day <= last; day = addDays(day, 1)) days.push(day);
  return days;
}

/**
 * `pause <n> days` (today and the n-1 days after it) or `pause until <date>` (today up to
 * the day before the date). No reminder, nothing expires, no occurrence is due while it
 * lasts. Refused when any 30 days ending on its last day would hold more than
 * `maxDaysPer30` paused days.
 */
export async function pausePerson(
  tx: Queryable,
  request: {
    userId: number;
    args: string;
    zone: string;
    now: Date;
    messageId: number;
    maxDaysPer30: number;
  },
): Promise<PauseOutcome> {
  const { zone, now } = request;
  const today = localDateOf(now, zone);
  let lastDay: LocalDate | null = null;
  const count = /^(\d{1,3})\s*(?:days?|d)?$/i.exec(request.args.trim());
  const untilText = /^(?:until|till|til|to)\s+(.+)$/i.exec(request.args.trim())?.[1];
  if (count) {
    const days = Number(count[1]);
    if (days >= 1) lastDay = addDays(today, days - 1);
  } else if (/^(today|a day|1 day|one day)$/i.test(request.args.trim())) {
    lastDay = today;
  } else if (untilText) {
    const until = parseLocalDay(untilText, now, zone);
    if (until && until > today) lastDay = addDays(until, -1);
  }
  if (!lastDay) return { outcome: 'bad_request' };
  const windowStart = addDays(lastDay, -29);
  const paused = new Set<LocalDate>();
  for (const pause of await pausesSince(tx, request.userId, startOfLocalDay(windowStart, zone))) {
    for (const day of daysOf(pause.first_day, pause.last_day)) {
      if (day >= windowStart) paused.add(day);
    }
  }
  const already = paused.size;
  for (const day of daysOf(today, lastDay)) paused.add(day);
  if (paused.size > request.maxDaysPer30) {
    return {
      outcome: 'limit',
      allowed: Math.max(0, request.maxDaysPer30 - already),
      max: request.maxDaysPer30,
    };
  }
  const { pause } = await insertPause(
    tx,
    {
      userId: request.userId,
      firstDay: today,
      lastDay,
      startsAt: now,
      endsAt: startOfLocalDay(addDays(lastDay, 1), zone),
      messageId: request.messageId,
    },
    now,
  );
  return { outcome: 'paused', pause, days: daysBetween(pause.first_day, pause.last_day) + 1 };
}

/** A date people write (`friday`, `june 5`, `2025-06-05`) as a local date in `zone`. */
function parseLocalDay(text: string, now: Date, zone: string): LocalDate | null {
  const wall = wallTimeOf(now, zone);
  const offset = Math.round(
    (Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute) -
      Math.floor(now.getTime() / 60_000) * 60_000) /
      60_000,
  );
  const result = chrono.parse(text, { instant: now, timezone: offset }, { forwardDate: true })[0];
  if (!result) return null;
  const year = result.start.get('year');
  const month = result.start.get('month');
  const day = result.start.get('day');
  if (year === null || month === null || day === null) return null;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/**
 * `resume`: ends the pause in force now. Its later days are given back to the limit, and
 * the habit occurrences it took out that are still ahead are active again; the habits'
 * next occurrences are looked for again from now (those the pause kept from being
 * created).
 */
export async function resumePerson(
  tx: Queryable,
  request: { userId: number; zone: string; now: Date; offsets: readonly number[] },
): Promise<PauseRow | null> {
  const pause = await pauseInForce(tx, request.userId, request.now);
  if (!pause) return null;
  const today = localDateOf(request.now, request.zone);
  // Today stays a paused day if the pause covered it: an occurrence due earlier today was
  // not there to do.
  const lastDay = today < pause.first_day ? addDays(pause.first_day, -1) : today;
  const { reactivatedTaskIds } = await endPause(tx, pause.id, { now: request.now, lastDay });
  for (const taskId of reactivatedTaskIds) {
    await reactivateCancelledTask(tx, taskId, { offsets: request.offsets, now: request.now });
  }
  await rewindHabits(tx, request.userId, request.now, request.offsets);
  return pause;
}

/**
 * Points the person's active habits at their first occurrence after `now` again, and opens
 * it if its day has started: occurrences skipped while paused come back (the unique
 * occurrence key keeps any that exist from being created twice).
 */
export async function rewindHabits(
  tx: Queryable,
  userId: number,
  now: Date,
  offsets: readonly number[],
): Promise<void> {
  for (const habit of await habitsOfUser(tx, userId, { activeOnly: true })) {
    const next = nextOccurrence(ruleOf(habit), now);
    await advanceHabit(tx, habit.id, next);
    const rewound = await findHabitById(tx, habit.id);
    if (rewound) await openDueOccurrences(tx, rewound, now, offsets);
  }
}
