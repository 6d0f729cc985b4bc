import type { TaskRow } from '../domain/task.js';

/** What Taskwire writes about consent and about a task an admin gave someone. */
export const consentTexts = {
  optedOut: () =>
    'You are unsubscribed from Taskwire: no more reminders or notices. ' +
    'Photos you send still count. Send START to get reminders again.',
  optedIn: () =>
    'Welcome back: reminders and notices are on again. Send HELP for the commands, STOP to stop.',
  alreadyIn: () =>
    'You are already subscribed to reminders and notices. Send STOP to stop them, HELP for the commands.',
  /** The end of `help`: what the service is, and how to stop it. */
  helpFooter: () => 'Reply STOP to stop all reminders and notices, START to get them again.',
  /** The notice telling a person an admin gave them a task. */
  assigned: (task: Pick<TaskRow, 'description' | 'points'>, due: string) =>
    `📋 New task for you: "${task.description}", due ${due}. ` +
    `Send a photo when it's done to earn ${task.points} point${task.points === 1 ? '' : 's'}.`,
};
