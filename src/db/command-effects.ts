import type { Queryable } from './executor.js';

/** A row of `command_effects`: one thing a person's command created or changed. */
export interface CommandEffectRow {
  id: number;
  user_id: number;
  message_id: number;
  /** What `ref_id` is: `task`, `cancel` (a task it cancelled), `habit`, `pause` ... */
  kind: string;
  ref_id: number;
  created_at: Date;
  undone_at: Date | null;
  undone_by_message_id: number | null;
}

const columns =
  'id, user_id, message_id, kind, ref_id, created_at, undone_at, undone_by_message_id';

export interface NewCommandEffect {
  userId: number;
  messageId: number;
  kind: string;
  refId: number;
  /** When the command ran (the processing clock, so tests can move it). */
  at: Date;
}

/** Records an effect; a re-processed command recording the same one again adds nothing. */
export async function insertCommandEffect(tx: Queryable, effect: NewCommandEffect): Promise<void> {
  await tx.query(
    `INSERT INTO command_effects (user_id, message_id, kind, ref_id, created_at)
     VALUES ($1, $2, $3, $4, $5::timestamptz)
     ON CONFLICT (message_id, kind, ref_id) DO NOTHING`,
    [effect.userId, effect.messageId, effect.kind, effect.refId, effect.at],
  );
}

/** The effects message `messageId` recorded (to answer a re-processed command alike). */
export const effectsOfMessage = (tx: Queryable, messageId: number) =>
  tx.query<CommandEffectRow>(
    `SELECT ${columns} FROM command_effects WHERE message_id = $1 ORDER BY id`,
    [messageId],
  );

/** The effects the `undo` of message `messageId` took back. */
export const effectsUndoneBy = (tx: Queryable, messageId: number) =>
  tx.query<CommandEffectRow>(
    `SELECT ${columns} FROM command_effects WHERE undone_by_message_id = $1 ORDER BY id`,
    [messageId],
  );

/**
 * The effects of the person's latest command not undone yet, recorded at or after
 * `since`; locked, so two `undo`s processed at once take back one command each.
 */
export async function latestUndoableEffects(
  tx: Queryable,
  userId: number,
  since: Date,
): Promise<CommandEffectRow[]> {
  return tx.query<CommandEffectRow>(
    `SELECT ${columns} FROM command_effects
     WHERE message_id = (
       SELECT message_id FROM command_effects
       WHERE user_id = $1 AND undone_at IS NULL AND created_at >= $2::timestamptz
       ORDER BY created_at DESC, id DESC LIMIT 1
     ) AND undone_at IS NULL
     ORDER BY id
     FOR UPDATE`,
    [userId, since],
  );
}

export async function markEffectsUndone(
  tx: Queryable,
  ids: readonly number[],
  undo: { messageId: number; at: Date },
): Promise<void> {
  await tx.query(
    `UPDATE command_effects SET undone_at = $2::timestamptz, undone_by_message_id = $3
     WHERE id = ANY ($1::bigint[]) AND undone_at IS NULL`,
    [ids, undo.at, undo.messageId],
  );
}
