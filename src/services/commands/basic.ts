import { listTasks } from '../../db/tasks.js';
import { replyTexts } from '../reply-texts.js';
import type { Command } from './command.js';

/** The commands Taskwire has always had: what is open, and the score. */
export const tasksCommand: Command = {
  name: 'tasks',
  usage: 'tasks',
  summary: 'your active tasks',
  async run({ tx, user, timeZone }) {
    const { items } = await listTasks(tx, {
      userId: user.id,
      status: 'active',
      limit: 5,
      offset: 0,
    });
    return replyTexts.tasks(items, timeZone);
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
