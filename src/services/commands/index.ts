import { pointsCommand, tasksCommand } from './basic.js';
import { buttonCommandCandidates } from './buttons.js';
import { cancelCommand } from './cancel.js';
import type { Command, CommandContext } from './command.js';
import { groupCommand, inviteCommand, joinCommand, leaveCommand } from './groups.js';
import { consentReply } from './consent.js';
import { consentTexts } from '../consent-texts.js';
import { consentWord } from '../consent.js';
import type { TwilioParams } from '../../domain/message.js';
import {
  habitCommand,
  habitsCommand,
  pauseCommand,
  resumeCommand,
  streakCommand,
} from './habits.js';
import { newTaskCommand } from './new-task.js';
import { linkCommand, logoutCommand } from './sign-in.js';
import { approveCommand, rejectCommand } from './reviews.js';
import { sharingCommand } from './sharing.js';
import { timeZoneCommand } from './time-zone.js';
import { undoCommand } from './undo.js';

export type { Command, CommandContext } from './command.js';

/**
 * `help`: every command of the table, how to write it and what it does. Generated, so a
 * new command is documented by its own entry.
 */
const helpCommand: Command = {
  name: 'help',
  aliases: ['info', 'commands'],
  usage: 'help [command]',
  summary: 'the commands; "help habit" says how to write one',
  async run(_context, args) {
    return args ? commandHelp(args) : helpText();
  },
};

/**
 * Every command, in the order `help` lists them. A new command is one file in this
 * folder and one entry here.
 */
export const commands: readonly Command[] = [
  newTaskCommand,
  tasksCommand,
  cancelCommand,
  habitCommand,
  habitsCommand,
  streakCommand,
  pauseCommand,
  resumeCommand,
  undoCommand,
  approveCommand,
  rejectCommand,
  timeZoneCommand,
  sharingCommand,
  pointsCommand,
  linkCommand,
  logoutCommand,
  joinCommand,
  leaveCommand,
  groupCommand,
  inviteCommand,
  helpCommand,
];

/**
 * What the service is, every command's usage, and how to stop (carriers require HELP to
 * say so). Only the usages: with every command's explanation it would run past the 1,600
 * characters Twilio sends in one message; `help <command>` gives one command's.
 */
export function helpText(): string {
  return (
    'Taskwire is your accountability group: tasks and habits, reminders before they are due, ' +
    'and points when you send a photo that proves your current task is done.\n' +
    `Commands: ${commands.map((command) => command.usage).join(' · ')}\n` +
    'Write "help" and a command to learn more, e.g. "help habit".\n' +
    consentTexts.helpFooter()
  );
}

/** `help <command>`: how to write one command and what it does. */
export function commandHelp(name: string): string {
  const parsed = parseCommand(name);
  if (!parsed) return `There is no command "${name.slice(0, 40)}". ${helpText()}`;
  const { command } = parsed;
  const aliases = command.aliases?.length ? ` (also: ${command.aliases.join(', ')})` : '';
  return `${command.usage}${aliases}: ${command.summary}`;
}

/** The command a message starts with, and the rest of it; null when it starts with none. */
export function parseCommand(body: string): { command: Command; args: string } | null {
  const text = body.trim();
  const match = /^(\S+)\s*([\s\S]*)$/.exec(text);
  if (!match) return null;
  // "Tasks?", "help!" and "points." are the bare words too.
  const word = (match[1] ?? '').toLowerCase().replace(/[.!?,:;]+$/, '');
  const command = commands.find(
    (candidate) => candidate.name === word || candidate.aliases?.includes(word),
  );
  return command ? { command, args: (match[2] ?? '').trim() } : null;
}

// A pressed quick-reply button (a reminder's "Pause today") is read as the command it names.
const commandText = (raw: TwilioParams, body: string): string =>
  buttonCommandCandidates(raw).find(parseCommand) ?? body;

/**
 * Whether runCommand may answer this message: a command, or a consent word (STOP, START).
 * False for a plain text, which gets the sender's pending task as its reply; the inbound
 * job answers plain texts many at a time (src/services/plain-texts.ts).
 */
export function mayBeCommand(message: { body: string; raw: TwilioParams }): boolean {
  const text = commandText(message.raw, message.body);
  return consentWord(text) !== null || parseCommand(text) !== null;
}

/** Runs the command a message starts with; null when the message is not a command. */
export async function runCommand(context: CommandContext, body: string): Promise<string | null> {
  const text = commandText(context.message.raw, body);
  const consent = await consentReply(context, text);
  if (consent !== null) return consent;
  const parsed = parseCommand(text);
  return parsed ? parsed.command.run(context, parsed.args) : null;
}
