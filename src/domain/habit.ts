import * as chrono from 'chrono-node';
import rrulePackage from 'rrule';
import type { Options as RRuleOptions } from 'rrule';
import { validationFailed } from './errors.js';
import {
  type LocalDate,
  addDays,
  daysBetween,
  formatLocalDate,
  instantOf,
  localDateOf,
  parseLocalDate,
  startOfLocalDay,
  wallTimeOf,
  weekStartOf,
} from './local-time.js';
import type { TaskStatus } from './task.js';

// rrule ships CommonJS: its named exports are reached through the default export.
const { RRule } = rrulePackage;

/**
 * Glossary
 * - Habit: a recurring task a person set (`habit Gym every mon wed fri at 7am`). Its
 *   schedule is an RRULE over local dates plus a local time of day, in the habit's zone.
 * - Occurrence: one `tasks` row of a habit (`habit_id`, `occurrence_date`), created by
 *   src/jobs/habit-occurrences.ts when its local day (or week) starts.
 * - Weekly quota: `3 times a week`: that many occurrences per local week, Monday to
 *   Sunday, all due at the end of the week.
 * - Streak: the run of consecutive occurrences (weeks, for a quota) completed; an expired
 *   one breaks it, one taken out by a pause (cancelled) is skipped.
 */

export const habitStatuses = ['active', 'cancelled'] as const;
export type HabitStatus = (typeof habitStatuses)[number];

/** A row of `habits`. */
export interface HabitRow {
  id: number;
  created_at: Date;
  user_id: number;
  description: string;
  schedule_text: string;
  rrule: string;
  local_time: string;
  time_zone: string;
  weekly_quota: number | null;
  points: number;
  status: HabitStatus;
  cancelled_at: Date | null;
  next_local_date: string | null;
  next_due_at: Date | null;
  next_opens_at: Date | null;
  /** The group whose rules apply to its occurrences' proofs; null only when it was deleted. */
  group_id: number | null;
}

/** A habit's schedule once parsed: what the `habits` row stores. */
export interface HabitSchedule {
  /** Without the `RRULE:` prefix: `FREQ=WEEKLY;BYDAY=MO,WE,FR`. */
  rrule: string;
  /** `HH:MM`, local. */
  localTime: string;
  weeklyQuota: number | null;
}

/** When an occurrence is due when the schedule names no time: the end of its day. */
export const DEFAULT_LOCAL_TIME = '23:59';

export const SCHEDULE_EXAMPLES =
  '"every day at 21:00", "every mon wed fri at 7am", "weekdays 8:00", "3 times a week"';

const DAY_NAMES: Record<string, string> = {
  mon: 'monday',
  tue: 'tuesday',
  tues: 'tuesday',
  wed: 'wednesday',
  thu: 'thursday',
  thur: 'thursday',
  thurs: 'thursday',
  fri: 'friday',
  sat: 'saturday',
  sun: 'sunday',
};
const FULL_DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const COUNT_WORDS: Record<string, number> = {
  once: 1,
  twice: 2,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
};

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * The time of day a schedule names, found by chrono-node, and the schedule without it.
 * chrono's match may take a weekday with it (`fri at 7am`): only the time is cut out.
 */
function takeTimeOfDay(text: string): { localTime: string | null; rest: string } {
  const result = chrono
    .parse(text, new Date(Date.UTC(2000, 0, 3, 12)))
    .find((candidate) => candidate.start.isCertain('hour'));
  if (!result) return { localTime: null, rest: text };
  const hour = result.start.get('hour') ?? 0;
  const minute = result.start.get('minute') ?? 0;
  const timePart = /(?:\b(?:at|@)\s*)?(?:\d|noon|midnight)[\s\S]*$/i.exec(result.text);
  const cutFrom = result.index + (timePart?.index ?? 0);
  const rest = text.slice(0, cutFrom) + text.slice(result.index + result.text.length);
  return { localTime: `${pad(hour)}:${pad(minute)}`, rest };
}

/** rrule options for the words that rrule's own text parser does not take. */
function ruleOptions(words: string): Partial<RRuleOptions> | null {
  const phrase = words
    .replace(/[.!]+$/, '')
    .replace(/\s+/g, ' ')
    .replace(/\b(at|@)$/, '')
    .trim();
  if (/^(daily|every ?day|each day)$/.test(phrase)) return { freq: RRule.DAILY };
  if (/^(on )?(every )?weekdays?$/.test(phrase)) return RRule.parseText('every weekday');
  if (/^(on )?(every )?weekends?$/.test(phrase)) {
    return { freq: RRule.WEEKLY, byweekday: [RRule.SA, RRule.SU] };
  }
  // "mon wed fri", "every mon, wed and fri", "on mondays": a list of days, which rrule's
  // parser reads only when written "every week on monday, wednesday, friday".
  const tokens = phrase
    .replace(/^(every|each|on)\s+/, '')
    .split(/[\s,&/]+|\band\b/)
    .filter((token) => token.length > 0)
    .map((token) => token.replace(/s$/, ''))
    .map((token) => DAY_NAMES[token] ?? token);
  if (tokens.length > 0 && tokens.every((token) => FULL_DAYS.includes(token))) {
    return RRule.parseText(`every week on ${[...new Set(tokens)].join(', ')}`);
  }
  if (!phrase.startsWith('every')) return null;
  try {
    return RRule.parseText(phrase);
  } catch {
    return null;
  }
}

const allowedFrequencies = new Set<number>([
  RRule.YEARLY,
  RRule.MONTHLY,
  RRule.WEEKLY,
  RRule.DAILY,
]);

/** The RRULE of `options`, without the time of day (that is `local_time`) or a start. */
function ruleString(options: Partial<RRuleOptions>): string | null {
  if (options.freq === undefined || !allowedFrequencies.has(options.freq)) return null;
  const { byhour: _h, byminute: _m, bysecond: _s, dtstart: _d, tzid: _t, ...rest } = options;
  const rule = new RRule(rest);
  return rule.toString().replace(/^RRULE:/, '');
}

/**
 * A schedule as people write it (`every day at 21:00`, `every mon wed fri at 7am`,
 * `weekdays 8:00`, `3 times a week`) or an RRULE (`FREQ=WEEKLY;BYDAY=MO;BYHOUR=7`); null
 * when it is neither. The time of day comes from chrono-node, the days from rrule's text
 * parser, after mapping the words it does not know onto its options.
 */
export function parseSchedule(input: string): HabitSchedule | null {
  const text = input.trim().toLowerCase();
  if (text.length === 0) return null;
  if (/^(rrule:)?freq=/.test(text)) {
    try {
      const options = RRule.parseString(input.trim().replace(/^rrule:/i, ''));
      const rrule = ruleString(options);
      if (!rrule) return null;
      const hour = [options.byhour ?? []].flat()[0];
      const minute = [options.byminute ?? []].flat()[0];
      const localTime =
        hour === undefined ? DEFAULT_LOCAL_TIME : `${pad(hour)}:${pad(minute ?? 0)}`;
      return { rrule, localTime, weeklyQuota: null };
    } catch {
      return null;
    }
  }
  const { localTime, rest } = takeTimeOfDay(text);
  const quota =
    /^(\d+|once|twice|one|two|three|four|five|six|seven)\s*(?:times?|x)?\s*(?:a|per|each|every|\/)\s*week$/.exec(
      rest.replace(/\s+/g, ' ').trim(),
    );
  if (quota) {
    const count = COUNT_WORDS[quota[1] ?? ''] ?? Number(quota[1]);
    if (!Number.isInteger(count) || count < 1 || count > 7) return null;
    // Due at the end of the person's week (Sunday), at the time named or its last minute.
    return {
      rrule: 'FREQ=WEEKLY;BYDAY=SU',
      localTime: localTime ?? DEFAULT_LOCAL_TIME,
      weeklyQuota: count,
    };
  }
  const options = ruleOptions(rest);
  const rrule = options ? ruleString(options) : null;
  return rrule ? { rrule, localTime: localTime ?? DEFAULT_LOCAL_TIME, weeklyQuota: null } : null;
}

/** parseSchedule for the API: a 400 saying how to write it instead of null. */
export function parseScheduleOrThrow(input: string): HabitSchedule {
  const schedule = parseSchedule(input);
  if (!schedule) {
    throw validationFailed(
      `schedule must be a phrase such as ${SCHEDULE_EXAMPLES}, or an RRULE such as ` +
        `"FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=7"; got "${input}".`,
    );
  }
  return schedule;
}

/**
 * Where a habit's description ends and its schedule starts: the first place from which the
 * rest parses as a schedule (`Check every drawer every day` → `every day`).
 */
export function splitHabitText(
  text: string,
): { description: string; schedule: HabitSchedule; scheduleText: string } | null {
  const words = [...text.matchAll(/\S+/g)];
  for (let i = 1; i < words.length; i += 1) {
    const start = words[i]?.index ?? 0;
    const scheduleText = text.slice(start).trim();
    const schedule = parseSchedule(scheduleText);
    if (schedule) {
      return { description: text.slice(0, start).trim(), schedule, scheduleText };
    }
  }
  return null;
}

/** What locates one occurrence: its local date (a quota's week start), due and open times. */
export interface Occurrence {
  localDate: LocalDate;
  dueAt: Date;
  /** The local midnight starting its day (a quota: its week): when it is created. */
  opensAt: Date;
}

export interface OccurrenceRule {
  rrule: string;
  localTime: string;
  timeZone: string;
  weeklyQuota: number | null;
  /** The local date the rule's intervals count from (`every 2 days`): the habit's first day. */
  anchor: LocalDate;
}

function timeParts(localTime: string): { hour: number; minute: number } {
  const [hour, minute] = localTime.split(':').map(Number);
  return { hour: hour ?? 0, minute: minute ?? 0 };
}

/**
 * The first occurrence due after `after`. The rule runs on "floating" dates (local wall
 * times written as UTC, rrule's own convention), then each local time becomes an instant
 * in the zone: 07:00 is 07:00 local before and after a daylight-saving change.
 */
export function nextOccurrence(rule: OccurrenceRule, after: Date): Occurrence | null {
  const { hour, minute } = timeParts(rule.localTime);
  const zone = rule.timeZone;
  if (rule.weeklyQuota !== null) {
    let week = weekStartOf(localDateOf(after, zone));
    for (let i = 0; i < 3; i += 1) {
      const dueAt = instantOf({ ...parseLocalDate(addDays(week, 6)), hour, minute }, zone);
      if (dueAt > after) return { localDate: week, dueAt, opensAt: startOfLocalDay(week, zone) };
      week = addDays(week, 7);
    }
    return null;
  }
  const anchor = parseLocalDate(rule.anchor);
  const options = RRule.parseString(rule.rrule);
  const floating = new RRule({
    ...options,
    dtstart: new Date(Date.UTC(anchor.year, anchor.month - 1, anchor.day, hour, minute)),
    byhour: [hour],
    byminute: [minute],
    bysecond: [0],
  });
  const wall = wallTimeOf(after, zone);
  let cursor = new Date(Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute));
  // A local time skipped by a DST change maps just past `after`; a few steps always suffice.
  for (let i = 0; i < 5; i += 1) {
    const next = floating.after(cursor, false);
    if (!next) return null;
    const localDate = next.toISOString().slice(0, 10);
    const dueAt = instantOf(
      {
        year: next.getUTCFullYear(),
        month: next.getUTCMonth() + 1,
        day: next.getUTCDate(),
        hour,
        minute,
      },
      zone,
    );
    if (dueAt > after) return { localDate, dueAt, opensAt: startOfLocalDay(localDate, zone) };
    cursor = next;
  }
  return null;
}

/**
 * A new habit's first occurrence: the next one, except that a quota's current week counts
 * only while it still has as many days left as the quota (`3 times a week` set on a
 * Saturday starts on Monday).
 */
export function firstOccurrence(rule: OccurrenceRule, now: Date): Occurrence | null {
  const next = nextOccurrence(rule, now);
  if (!next || rule.weeklyQuota === null) return next;
  const daysLeft = daysBetween(localDateOf(now, rule.timeZone), addDays(next.localDate, 6)) + 1;
  return daysLeft >= rule.weeklyQuota ? next : nextOccurrence(rule, next.dueAt);
}

export const ruleOf = (habit: HabitRow): OccurrenceRule => ({
  rrule: habit.rrule,
  localTime: habit.local_time,
  timeZone: habit.time_zone,
  weeklyQuota: habit.weekly_quota,
  anchor: localDateOf(habit.created_at, habit.time_zone),
});

/**
 * The occurrence (a quota's round: its week) a habit started with, as createHabit chose it
 * from its creation time. Not `next_*`: once the first occurrence is created those point at
 * the one after it (next week's round), which is not what a person just answered should read.
 */
export const firstOccurrenceOf = (habit: HabitRow): Occurrence | null =>
  firstOccurrence(ruleOf(habit), habit.created_at);

/** One occurrence's outcome, as streaks count it. */
export interface OccurrenceOutcome {
  occurrence_date: LocalDate;
  status: TaskStatus;
}

export interface Streaks {
  current: number;
  best: number;
}

/**
 * Current and best streak, in occurrences (local days), or weeks for a quota: completed
 * adds one, expired breaks the run, cancelled (a pause took it out, or an admin) and still
 * active (not decided yet) are skipped.
 */
export function computeStreaks(
  occurrences: readonly OccurrenceOutcome[],
  weeklyQuota: number | null,
): Streaks {
  const outcomes: ('count' | 'break' | 'skip')[] = [];
  const sorted = [...occurrences].sort((a, b) =>
    a.occurrence_date.localeCompare(b.occurrence_date),
  );
  if (weeklyQuota === null) {
    for (const { status } of sorted) {
      outcomes.push(status === 'completed' ? 'count' : status === 'expired' ? 'break' : 'skip');
    }
  } else {
    const weeks = new Map<string, TaskStatus[]>();
    for (const { occurrence_date, status } of sorted) {
      weeks.set(occurrence_date, [...(weeks.get(occurrence_date) ?? []), status]);
    }
    for (const statuses of weeks.values()) {
      const completed = statuses.filter((status) => status === 'completed').length;
      if (completed >= weeklyQuota) outcomes.push('count');
      else if (statuses.includes('expired')) outcomes.push('break');
      else outcomes.push('skip');
    }
  }
  let current = 0;
  let best = 0;
  for (const outcome of outcomes) {
    if (outcome === 'count') best = Math.max(best, (current += 1));
    else if (outcome === 'break') current = 0;
  }
  return { current, best };
}

/** `Mon, Wed, Fri at 07:00`-style wording of a schedule, for replies. */
export function describeSchedule(
  habit: Pick<HabitRow, 'rrule' | 'local_time' | 'weekly_quota'>,
): string {
  if (habit.weekly_quota !== null) {
    return `${habit.weekly_quota} time${habit.weekly_quota === 1 ? '' : 's'} a week`;
  }
  const text = RRule.fromString(habit.rrule).toText();
  return `${text} at ${habit.local_time}`;
}

export { formatLocalDate };
