import { setTaskGroup } from '../../db/groups.js';
import { findTaskById, updateActiveTask } from '../../db/tasks.js';
import { createTaskOfMessage, openTasksOfUser } from '../../db/own-tasks.js';
import { DESCRIPTION_MAX_LENGTH, type TaskRow } from '../../domain/task.js';
import { parseDuePhrase } from '../due-phrases.js';
import { groupTexts } from '../group-texts.js';
import { chooseGroup } from '../groups.js';
import { selfServiceTexts } from '../self-service-texts.js';
import type { Command, CommandContext } from './command.js';
import { recordCommandEffect, registerUndo } from './undo.js';

/** The number `tasks` shows a task under: its place among the person's active tasks. */
async function numberOf(context: CommandContext, task: TaskRow): Promise<number> {
  const { items } = await openTasksOfUser(context.tx, context.user.id, {
    limit: 1000,
    offset: 0,
  });
  const index = items.findIndex((item) => item.id === task.id);
  return index === -1 ? items.length + 1 : index + 1;
}

/**
 * `new <what> <when>`: a one-off task the person gives themselves, due when they say in
 * their own zone. Created once per message (tasks.created_by_message_id), so a re-delivered
 * or re-processed `new` answers with the task it created the first time.
 */
export const newTaskCommand: Command = {
  name: 'new',
  aliases: ['add'],
  usage: 'new <what> <when>',
  summary:
    'a task for yourself, e.g. "new Run 5k tomorrow 7am", "new Call mom in 2 hours" ' +
    '(a day without a time is due at 23:59)',
  async run(context, args) {
    const { tx, user, message, now, timeZone } = context;
    // `new … in Runners`: one of the person's groups; none named and several: ask which.
    const choice = await chooseGroup(tx, user.id, args);
    if (choice.outcome === 'ask') return groupTexts.whichGroup(`new ${args}`, choice.groups);
    const phrase = parseDuePhrase(choice.text, { now, zone: timeZone });
    if (phrase.outcome === 'no_what') return selfServiceTexts.newWithoutWhat();
    if (phrase.outcome === 'no_time') return selfServiceTexts.newWithoutTime(phrase.what);
    if (phrase.outcome === 'past') {
      return selfServiceTexts.newInThePast(phrase.what, phrase.due, timeZone);
    }
    const created = await createTaskOfMessage(
      tx,
      {
        user_id: user.id,
        description: phrase.what.slice(0, DESCRIPTION_MAX_LENGTH),
        due_time: phrase.due,
        points: context.pointsPerTask,
        messageId: message.id,
      },
      { offsets: context.reminderOffsets, now },
    );
    if (!created) return selfServiceTexts.undoGone();
    if (created.created && choice.group) await setTaskGroup(tx, created.task.id, choice.group.id);
    await recordCommandEffect(tx, {
      userId: user.id,
      messageId: message.id,
      kind: 'task',
      refId: created.task.id,
      at: now,
    });
    return selfServiceTexts.created(await numberOf(context, created.task), created.task, timeZone);
  },
};

/**
 * Undoing `new` cancels the task (its reminders with it) rather than deleting the row: the
 * row keeps the message's key, so re-processing that `new` cannot create it again.
 */
registerUndo('task', async (tx, taskId, context) => {
  const result = await updateActiveTask(
    tx,
    taskId,
    { status: 'cancelled' },
    { offsets: context.reminderOffsets, now: context.now },
  );
  if (result.outcome === 'updated') return selfServiceTexts.undoneTask(result.task);
  const task = result.outcome === 'not_active' ? await findTaskById(tx, taskId) : null;
  return task ? selfServiceTexts.undoTaskClosed(task) : selfServiceTexts.undoGone();
});
