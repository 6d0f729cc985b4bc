/**
 * docs/whatsapp-commands.md follows the command table: every command has its section, its
 * aliases are named there, every example is read as the command it stands under, and the
 * consent words are those src/services/consent.ts knows.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { commands, parseCommand } from '../src/services/commands/index.js';
import { OPT_IN_WORDS, OPT_OUT_WORDS } from '../src/services/consent.js';

const doc = readFileSync(new URL('../docs/whatsapp-commands.md', import.meta.url), 'utf8');

/** The `### \`name\`` sections: each command's text up to the next heading. */
function sections(): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of doc.split(/^(?=#{2,3} )/m)) {
    const name = /^### `([^`]+)`\n/.exec(part)?.[1];
    if (name) found.set(name, part);
  }
  return found;
}

describe('docs/whatsapp-commands.md', () => {
  test('has a section for every command of the table, and none for a command it lacks', () => {
    assert.deepEqual([...sections().keys()].sort(), commands.map((command) => command.name).sort());
  });

  test('names each command’s word aliases in its section', () => {
    for (const command of commands) {
      const section = sections().get(command.name) ?? '';
      for (const alias of command.aliases ?? []) {
        if (!/^\w+$/.test(alias)) continue; // 👍 and its skin tones are described in words
        assert.ok(section.includes(`\`${alias}\``), `${command.name}: alias ${alias}`);
      }
    }
  });

  test('every example is read as the command it stands under', () => {
    let examples = 0;
    for (const [name, section] of sections()) {
      const listed = [...section.matchAll(/^- `([^`]+)`$/gm)].map((match) => match[1] as string);
      assert.ok(listed.length > 0, `${name} has an example`);
      for (const example of listed) {
        assert.equal(parseCommand(example)?.command.name, name, example);
        examples += 1;
      }
    }
    assert.ok(examples >= commands.length);
  });

  test('lists the opt-out and opt-in words src/services/consent.ts knows', () => {
    for (const word of [...OPT_OUT_WORDS, ...OPT_IN_WORDS]) {
      assert.ok(doc.includes(`\`${word.toUpperCase()}\``), word);
    }
  });
});
