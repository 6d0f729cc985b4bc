import { effectsOfMessage } from '../../db/command-effects.js';
import { findTaskById, updateActiveTask } from '../../db/tasks.js';
import { nthOpenTaskOfUser, openTasksOfUser, reactivateCancelledTask } from '../../db/own-tasks.js';
import { selfServiceTexts } from '../self-service-texts.js';
import type { Command, CommandContext } from './command.js';
import { recordCommandEffect, registerUndo } from './undo.js';

/**
 * `cancel <n>` cancels task n of the `tasks` list; `cancel <letter><n>` item n of another
 * list, each registered by its command: `cancel h2` is habit 2 of `habits`. A list's
 * numbers are its current order, so the reply says by name what was cancelled.
 */
export type CancelListItem = (context: CommandContext, n: number) => Promise<string>;

const otherLists = new Map<string, CancelListItem>();

/** `cancel <prefix><n>`: the prefix is one lower-case letter, e.g. `h` for habits. */
export function registerCancelList(prefix: string, cancel: CancelListItem): void {
  if (!/^[a-z]$/.test(prefix) || otherLists.has(prefix)) {
    throw new Error(`cancel list prefix "${prefix}" must be one unused letter`);
  }
  otherLists.set(prefix, cancel);
}

const usage = () => `cancel <n>${[...otherLists.keys()].map((p) => ` | cancel ${p}<n>`).join('')}`;

async function cancelTask(context: CommandContext, n: number): Promise<string> {
  const { tx, user, message, now, timeZone } = context;
  // The same message processed again: its task is cancelled already, and the list has
  // moved up since, so number n would now be another task.
  const earlier = (await effectsOfMessage(tx, message.id)).find((e) => e.kind === 'cancel');
  if (earlier) {
    const task = await findTaskById(tx, earlier.ref_id);
    if (task) return selfServiceTexts.cancelled(n, task, timeZone);
  }
  const task = await nthOpenTaskOfUser(tx, user.id, n);
  if (!task) {
    const { total } = await openTasksOfUser(tx, user.id, { limit: 0, offset: 0 });
    return selfServiceTexts.cancelNoSuchTask(n, total);
  }
  const result = await updateActiveTask(
    tx,
    task.id,
    { status: 'cancelled' },
    { offsets: context.reminderOffsets, now },
  );
  if (result.outcome !== 'updated') return selfServiceTexts.cancelNotActive(task);
  await recordCommandEffect(tx, {
    userId: user.id,
    messageId: message.id,
    kind: 'cancel',
    refId: task.id,
    at: now,
  });
  return selfServiceTexts.cancelled(n, result.task, timeZone);
}

export const cancelCommand: Command = {
  name: 'cancel',
  usage: 'cancel <n>',
  summary: 'cancels task n of your "tasks" list ("cancel h2": habit 2 of "habits")',
  async run(context, args) {
    const match = /^#?([a-z]?)\s*(\d{1,4})$/i.exec(args.trim());
    const n = match ? Number(match[2]) : 0;
    if (!match || n < 1) return selfServiceTexts.cancelUsage(usage());
    const prefix = (match[1] ?? '').toLowerCase();
    if (!prefix) return cancelTask(context, n);
    const other = otherLists.get(prefix);
    return other ? other(context, n) : selfServiceTexts.cancelUsage(usage());
  },
};

/** Undoing `cancel` makes the task active again, while it is still due ahead. */
registerUndo('cancel', async (tx, taskId, context) => {
  const task = await reactivateCancelledTask(tx, taskId, {
    offsets: context.reminderOffsets,
    now: context.now,
  });
  if (task) return selfServiceTexts.undoneCancel(task, context.timeZone);
  const current = await findTaskById(tx, taskId);
  return current ? selfServiceTexts.undoCancelTooLate(current) : selfServiceTexts.undoGone();
});
