import { openTasksOfUser } from '../../db/own-tasks.js';
import { replyTexts } from '../reply-texts.js';
import { selfServiceTexts } from '../self-service-texts.js';
import type { Command } from './command.js';

/** How many tasks `tasks` lists; the reply says how many more there are. */
export const TASKS_LISTED = 10;

/** `tasks`: today's and upcoming active tasks, numbered as `cancel <n>` takes them. */
export const tasksCommand: Command = {
  name: 'tasks',
  usage: 'tasks',
  summary: "today's and upcoming tasks, numbered",
  async run({ tx, user, timeZone, now }) {
    const { items, total } = await openTasksOfUser(tx, user.id, {
      limit: TASKS_LISTED,
      offset: 0,
    });
    return selfServiceTexts.tasks(items, total, timeZone, now);
  },
};

export const pointsCommand: Command = {
  name: 'points',
  aliases: ['score'],
  usage: 'points',
  summary: 'your score',
  async run({ user }) {
    return replyTexts.points(user.points);
  },
};
