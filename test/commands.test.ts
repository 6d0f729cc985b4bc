import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { commandHelp, commands, helpText, parseCommand } from '../src/services/commands/index.js';
import { replyTexts } from '../src/services/reply-texts.js';

describe('the WhatsApp command table', () => {
  test('the first word picks the command, in any case, with trailing punctuation', () => {
    assert.equal(parseCommand('TASKS')?.command.name, 'tasks');
    assert.equal(parseCommand('  points? ')?.command.name, 'points');
    assert.equal(parseCommand('Help!')?.command.name, 'help');
    assert.equal(parseCommand('score')?.command.name, 'points', 'an alias');
  });

  test('the rest of the message is the arguments, trimmed', () => {
    assert.equal(parseCommand('tasks  for today ')?.args, 'for today');
    assert.equal(parseCommand('tasks')?.args, '');
  });

  test('a message that starts with no command word is not a command', () => {
    assert.equal(parseCommand('Done!'), null);
    assert.equal(parseCommand(''), null);
    assert.equal(parseCommand('   '), null);
    assert.equal(parseCommand('taskses'), null);
  });

  test('help lists every command of the table with how to write it', () => {
    const help = helpText();
    for (const command of commands) assert.ok(help.includes(command.usage), command.name);
  });

  test('no two commands share a first word', () => {
    const words = commands.flatMap((command) => [command.name, ...(command.aliases ?? [])]);
    assert.equal(new Set(words).size, words.length);
  });

  test('help fits in one Twilio message, even after the welcome of a long profile name', () => {
    const welcome = replyTexts.welcome('W'.repeat(100));
    assert.ok((welcome + helpText()).length <= 1600, `${(welcome + helpText()).length} characters`);
  });

  test('"help <command>" says how to write that command and what it does', () => {
    const habit = commands.find((command) => command.name === 'habit');
    assert.ok(habit);
    assert.equal(commandHelp('habit'), `${habit.usage}: ${habit.summary}`);
    assert.match(commandHelp('SCORE'), /^points \(also: score\): /);
    assert.match(commandHelp('frobnicate'), /^There is no command "frobnicate"\. .*Commands: /s);
  });
});
