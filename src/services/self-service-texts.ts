import type { TaskRow } from '../domain/task.js';
import { formatDueTime } from './reply-texts.js';

/**
 * What Taskwire answers to the commands people manage their own tasks, zone and sharing with
 * (`new`, `tasks`, `cancel`, `undo`, `tz`, `sharing`): short, and saying what to write when it
 * could not help.
 */

const NEW_EXAMPLES =
  'For example: "new Run 5k tomorrow 7am", "new Call mom in 2 hours" or ' +
  '"new Read chapter 3 friday 18:00".';

const localDate = (instant: Date, zone: string) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: zone, dateStyle: 'short' }).format(instant);

const SHARING_ON = 'Sharing is on: your groups are told of your proofs and see them in the app.';
const SHARING_OFF =
  'Sharing is off: your groups are not told of your proofs and do not see them in the app ' +
  '(a group that reviews proofs still shows them to its reviewers); they still count for you.';

export const selfServiceTexts = {
  created: (number: number, task: TaskRow, zone: string) =>
    `✅ Task ${number}: "${task.description}", due ${formatDueTime(task.due_time, zone)}. ` +
    'Send a photo when it\'s done. Reply "undo" within 10 minutes to remove it.',
  newWithoutTime: (what: string) =>
    `I couldn't find when "${what}" is due, so I created nothing. Write the task, then when. ${NEW_EXAMPLES}`,
  newWithoutWhat: () => `What is the task? Write it before when it is due. ${NEW_EXAMPLES}`,
  newInThePast: (what: string, due: Date, zone: string) =>
    `"${what}" would be due ${formatDueTime(due, zone)}, which has already passed, so I created ` +
    `nothing. Give a time ahead: ${NEW_EXAMPLES}`,

  /** `tasks`: the open ones, today's first, numbered as `cancel <n>` takes them. */
  tasks: (tasks: TaskRow[], total: number, zone: string, now: Date) => {
    if (total === 0) {
      return 'You have no active tasks. Create one with "new <what> <when>", e.g. "new Run 5k tomorrow 7am".';
    }
    const today = localDate(now, zone);
    const line = (task: TaskRow, i: number) =>
      `${i + 1}. ${task.description} (due ${formatDueTime(task.due_time, zone)})`;
    const lines: string[] = [];
    let heading: string | null = null;
    tasks.forEach((task, i) => {
      const section = localDate(task.due_time, zone) <= today ? 'Today:' : 'Upcoming:';
      if (section !== heading) lines.push((heading = section));
      lines.push(line(task, i));
    });
    const more = total > tasks.length ? `\n…and ${total - tasks.length} more.` : '';
    return (
      `Your active tasks:\n${lines.join('\n')}${more}\n` +
      'Send a photo to complete the first one; "cancel <number>" cancels one.'
    );
  },

  cancelled: (number: number, task: TaskRow, zone: string) =>
    `Cancelled task ${number}: "${task.description}" (was due ${formatDueTime(task.due_time, zone)}). ` +
    'Reply "undo" within 10 minutes to bring it back.',
  cancelUsage: (usage: string) =>
    `Write "${usage}" with a number from your "tasks" list, e.g. "cancel 2".`,
  cancelNoSuchTask: (number: number, total: number) =>
    total === 0
      ? `You have no active tasks, so there is no task ${number} to cancel.`
      : `You have ${total} active task${total === 1 ? '' : 's'}, so there is no task ${number}. Reply "tasks" to see them.`,
  cancelNotActive: (task: TaskRow) =>
    `"${task.description}" is already ${task.status}, so there is nothing to cancel.`,

  nothingToUndo: () =>
    'There is nothing to undo: "undo" takes back what your last command created, within 10 minutes of it.',
  undoneTask: (task: TaskRow) => `Undone: "${task.description}" is removed.`,
  undoTaskClosed: (task: TaskRow) =>
    `"${task.description}" is already ${task.status}, so it stays as it is.`,
  undoneCancel: (task: TaskRow, zone: string) =>
    `Undone: "${task.description}" is back, due ${formatDueTime(task.due_time, zone)}.`,
  undoCancelTooLate: (task: TaskRow) =>
    `"${task.description}" stays cancelled: its due time has passed or it changed since.`,
  undoGone: () => 'What that command created is gone already.',

  zoneSet: (zone: string, now: Date) =>
    `Your time zone is now ${zone} (it is ${new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      timeStyle: 'short',
    }).format(now)} there). Due times are read and shown in it.`,
  zoneCurrent: (zone: string, source: 'set' | 'phone' | 'default') =>
    `Your time zone is ${zone}` +
    (source === 'set'
      ? '.'
      : source === 'phone'
        ? ", from your phone number's country."
        : " (the group's default).") +
    ' To change it, write "tz" and a zone or city, e.g. "tz Europe/Paris" or "tz New York".',
  zoneUnknown: (input: string) =>
    `I don't know the time zone "${input}". Write "tz" and an IANA zone name such as ` +
    '"tz Europe/Paris" or "tz America/New_York", or a city with its own zone, e.g. "tz Paris" ' +
    'or "tz Sao Paulo".',
  zoneAmbiguous: (input: string, candidates: readonly string[]) =>
    `"${input}" could be ${candidates.join(' or ')}. Write the full name, e.g. "tz ${candidates[0] ?? 'Europe/Paris'}".`,

  /** `sharing`, alone or after a change: the setting now, and how to change it. */
  sharing: (share: boolean) =>
    share
      ? `${SHARING_ON} Send "sharing off" to keep them to yourself.`
      : `${SHARING_OFF} Send "sharing on" to share them again.`,
  sharingUnknown: (input: string, share: boolean) =>
    `I didn't understand "sharing ${input.slice(0, 40)}", so nothing changed: sharing is ` +
    `${share ? 'on' : 'off'}. Send "sharing on" or "sharing off".`,
};
