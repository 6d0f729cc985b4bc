import type { TaskRow } from '../domain/task.js';

/**
 * Every text Taskwire writes to people, in one place: short, friendly, and always saying
 * what to do next.
 */

/**
 * `25 Nov 2026, 18:30 (Europe/Paris)` in the user's time zone, or UTC. A wall-clock time
 * that happens twice (the hour repeated when clocks go back) also says its UTC offset:
 * `1 Nov 2026, 01:30 (America/New_York, GMT-4)`.
 */
// Building an Intl.DateTimeFormat costs far more than formatting with one (a fifth of a
// millisecond: a measurable share of a reply's CPU in bench:loop), so one is kept per zone.
// Zones are few (IANA names), so the cache stays small; an invalid zone throws and is not kept.
const dueTimeFormats = new Map<string, Intl.DateTimeFormat>();
const dueTimeFormat = (zone: string): Intl.DateTimeFormat => {
  let format = dueTimeFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: zone,
    });
    if (dueTimeFormats.size < 1000) dueTimeFormats.set(zone, format);
  }
  return format;
};

export function formatDueTime(due: Date, timeZone: string | null): string {
  const zone = timeZone ?? 'UTC';
  try {
    const format = dueTimeFormat(zone);
    const text = format.format(due);
    // Clocks go back by an hour, or by half an hour in a few zones (Lord Howe Island).
    const ambiguous = [-60, -30, 30, 60].some(
      (minutes) => format.format(new Date(due.getTime() + minutes * 60_000)) === text,
    );
    if (!ambiguous) return `${text} (${zone})`;
    const offset = new Intl.DateTimeFormat('en-GB', { timeZone: zone, timeZoneName: 'shortOffset' })
      .formatToParts(due)
      .find((part) => part.type === 'timeZoneName')?.value;
    return `${text} (${zone}${offset ? `, ${offset}` : ''})`;
  } catch {
    return `${due.toISOString().slice(0, 16).replace('T', ' ')} (UTC)`;
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const replyTexts = {
  welcome: (name: string) => `Welcome to Taskwire, ${name}! `,
  notRegistered: () =>
    "Hi! This number isn't part of a Taskwire group yet. Ask your group's admin to add you.",
  completed: (task: TaskRow, earned: number, total: number) =>
    `✅ "${task.description}" is done! +${plural(earned, 'point')}. You now have ${plural(total, 'point')}.`,
  photoWithoutTask: () =>
    'Thanks for the photo! You have no active task right now, so it does not count for points. ' +
    'Reply "tasks" to see your tasks.',
  /**
   * A photo already used as proof (src/services/proof-check.ts). Whose and which task is
   * said only to its own author: the feed is the group's, but a reply is private.
   */
  duplicateProof: (
    task: TaskRow,
    earlier: { mine: boolean; similar: boolean; taskDescription: string | null; at: Date },
    timeZone: string | null,
  ) =>
    `${earlier.similar ? 'This photo looks like a copy of one' : 'This photo was'} already used as proof` +
    (earlier.mine
      ? `${earlier.taskDescription ? ` for "${earlier.taskDescription}"` : ''} on ${formatDueTime(earlier.at, timeZone)}`
      : ' by someone else') +
    `, so it doesn't count again. "${task.description}" is still open: send a new photo to complete it.`,
  notAPhoto: () =>
    'To complete a task, send a photo (JPEG or PNG) as proof. Reply "help" for the commands.',
  taskPending: (task: TaskRow, timeZone: string | null) =>
    `Your task: "${task.description}", due ${formatDueTime(task.due_time, timeZone)}. ` +
    'Send a photo to complete it.',
  noTask: () => 'You have no active task right now. Reply "points" to see your score.',
  points: (points: number) => `You have ${plural(points, 'point')}.`,
};

/** What Taskwire says on its own initiative about a task: reminders and expiry. */
export const noticeTexts = {
  /** A reminder stage; `tone` escalates towards the due time. */
  reminder: (
    task: Pick<TaskRow, 'description' | 'points'>,
    tone: 'gentle' | 'firm' | 'urgent',
    due: string,
    remaining: string,
  ) => {
    const what = `"${task.description}"`;
    if (tone === 'urgent') {
      return `🚨 Last call: ${what} is due in ${remaining}, at ${due}. Send your photo now to earn ${plural(task.points, 'point')}!`;
    }
    if (tone === 'firm') {
      return `⏰ ${what} is due in ${remaining}, at ${due}. Don't forget to send a photo when it's done.`;
    }
    return `👋 Reminder: ${what} is due ${due}, in ${remaining}. Send a photo when it's done.`;
  },
  expired: (task: Pick<TaskRow, 'description'>, due: string) =>
    `⌛ "${task.description}" expired: it was due ${due}. No points this time. Reply "tasks" to see what's next.`,
  /** A photo sent after the due time of a task that an earlier message may still complete. */
  photoAfterDue: (task: Pick<TaskRow, 'description'>, due: string) =>
    `Thanks for the photo, but it came after "${task.description}" was due at ${due}, so it does not count for it. ` +
    'Reply "tasks" to see your tasks.',
  photoForExpiredTask: (task: Pick<TaskRow, 'description'>, due: string) =>
    `Thanks for the photo, but "${task.description}" expired: it was due ${due}, so it does not count for points. ` +
    'Reply "tasks" to see your tasks.',
};

/** Longest task description put into a template variable; longer ones end in `…`. */
export const TEMPLATE_VARIABLE_MAX_LENGTH = 200;

/**
 * A value as WhatsApp accepts it in a template variable: WhatsApp refuses variables with
 * newlines, tabs or runs of spaces (the message then fails at Twilio for good), and a task
 * description may have all of them and run to 2,000 characters.
 */
function templateValue(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  // Counted in code points, so an emoji is never cut in half.
  const characters = Array.from(flat);
  return characters.length <= TEMPLATE_VARIABLE_MAX_LENGTH
    ? flat
    : `${characters
        .slice(0, TEMPLATE_VARIABLE_MAX_LENGTH - 1)
        .join('')
        .trimEnd()}…`;
}

/** The variables of the reminder template (REMINDER_CONTENT_SID): `1` the task, `2` its due time. */
export const reminderTemplateVariables = (
  task: Pick<TaskRow, 'description'>,
  due: string,
): Record<string, string> => ({ '1': templateValue(task.description), '2': templateValue(due) });
