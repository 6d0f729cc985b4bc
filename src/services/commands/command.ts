import type { Queryable } from '../../db/executor.js';
import type { ClaimedMessage } from '../../db/message-queue.js';
import type { UserRow } from '../../domain/user.js';

/**
 * What a WhatsApp (or SMS) command runs with. Commands run inside the transaction that
 * marks the inbound message processed, so whatever a command writes happens exactly once
 * however often Twilio re-delivers the message or a worker retries it.
 */
export interface CommandContext {
  tx: Queryable;
  /** The person who wrote (always known: unknown senders never reach the commands). */
  user: UserRow;
  message: ClaimedMessage;
  /** The current time (tests inject a clock). */
  now: Date;
  /** The person's IANA time zone: their own, else inferred, else TZ, else UTC. */
  timeZone: string;
  /** TZ: the zone of people whose own zone is neither set nor inferred (default UTC). */
  defaultTimezone: string;
  /** REMINDER_OFFSETS: the reminder stages a task a command creates gets. */
  reminderOffsets: readonly number[];
  /** POINTS_PER_TASK: what a task a person creates is worth. */
  pointsPerTask: number;
  /** PAUSE_MAX_DAYS_PER_30: paused days a person may have in any 30 (default 14). */
  pauseMaxDaysPer30?: number;
  /** Where the participant app is (PUBLIC_URL, else the local address): `link` points there. */
  appBaseUrl?: string;
}

/**
 * One command people type: the first word of a message (any case), then its arguments.
 * `help` is generated from this table, so a command is documented where it is defined.
 */
export interface Command {
  /** The first word, lower case: `tasks`, `new`, `habit`. */
  name: string;
  /** Other first words that mean the same (`points` → `score`). */
  aliases?: readonly string[];
  /** How to write it, for help and for replies to a malformed command: `new <what> <when>`. */
  usage: string;
  /** One line for `help`. */
  summary: string;
  /**
   * Answers the command. `args` is the rest of the message after the first word, trimmed
   * (empty when there is none). Resolves to the reply text.
   */
  run(context: CommandContext, args: string): Promise<string>;
}
