import {
  effectsUndoneBy,
  insertCommandEffect,
  latestUndoableEffects,
  markEffectsUndone,
  type NewCommandEffect,
} from '../../db/command-effects.js';
import type { Queryable } from '../../db/executor.js';
import { selfServiceTexts } from '../self-service-texts.js';
import type { Command, CommandContext } from './command.js';

/**
 * `undo`: takes back what the person's last command created (a task, a habit, a pause ...)
 * within UNDO_WINDOW_MINUTES of it. Every command that creates something records it with
 * recordCommandEffect in its own transaction; each kind of thing registers how it is taken
 * back with registerUndo, next to the command that creates it.
 */

export const UNDO_WINDOW_MINUTES = 10;

/**
 * Takes back one thing of `kind` (its row `refId`) and says what happened, e.g.
 * `Undone: "Run 5k" is removed.`; when it cannot be taken back any more (a task completed
 * meanwhile) it changes nothing and says why. Runs in the `undo` message's transaction.
 */
export type UndoEffect = (tx: Queryable, refId: number, context: CommandContext) => Promise<string>;

const undoers = new Map<string, UndoEffect>();

/** How an effect of `kind` is undone; one call per kind, beside the command creating it. */
export function registerUndo(kind: string, undo: UndoEffect): void {
  if (undoers.has(kind)) throw new Error(`undo for "${kind}" is registered twice`);
  undoers.set(kind, undo);
}

/**
 * Records that the command of message `messageId` created row `refId` of `kind`, for
 * `undo`. Call it in the command's transaction with `at: context.now`; recording the same
 * effect again (a re-processed message) adds nothing.
 */
export const recordCommandEffect = (tx: Queryable, effect: NewCommandEffect): Promise<void> =>
  insertCommandEffect(tx, effect);

export const undoCommand: Command = {
  name: 'undo',
  usage: 'undo',
  summary: `takes back what your last command created (within ${UNDO_WINDOW_MINUTES} minutes)`,
  async run(context) {
    const { tx, user, message, now } = context;
    // This very `undo`, processed again: its work is done, and undoing the command before
    // would be a second undo nobody asked for.
    if ((await effectsUndoneBy(tx, message.id)).length > 0) return 'Already undone.';
    const since = new Date(now.getTime() - UNDO_WINDOW_MINUTES * 60_000);
    const effects = (await latestUndoableEffects(tx, user.id, since)).filter(
      (effect) => effect.message_id !== message.id,
    );
    if (effects.length === 0) return selfServiceTexts.nothingToUndo();
    const replies: string[] = [];
    for (const effect of effects) {
      const undo = undoers.get(effect.kind);
      replies.push(undo ? await undo(tx, effect.ref_id, context) : selfServiceTexts.undoGone());
    }
    await markEffectsUndone(
      tx,
      effects.map((effect) => effect.id),
      { messageId: message.id, at: now },
    );
    return replies.join('\n');
  },
};
