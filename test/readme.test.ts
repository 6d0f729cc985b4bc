import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { variables } from '../src/config/variables.js';

interface Row {
  name: string;
  default: string;
  meaning: string;
}

/** The rows of the table under README's "## Configuration" heading. */
function configurationTable(): Row[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('Configuration\n'));
  assert.ok(section, 'README.md has a "## Configuration" section');
  const rows: Row[] = [];
  for (const line of section.split('\n')) {
    const cells = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|(.*)\|(.*)\|\s*$/.exec(line);
    if (!cells) continue;
    rows.push({
      name: cells[1] as string,
      default: (cells[2] as string).trim(),
      meaning: (cells[3] as string).trim(),
    });
  }
  return rows;
}

describe('README configuration table', () => {
  const rows = configurationTable();
  const byName = new Map(rows.map((row) => [row.name, row]));

  test('lists every variable of src/config/variables.ts', () => {
    const missing = variables.filter((v) => !byName.has(v.name)).map((v) => v.name);
    assert.deepEqual(missing, []);
  });

  test('lists no variable that Taskwire does not read, and none twice', () => {
    const known = new Set(variables.map((v) => v.name));
    assert.deepEqual(
      rows.filter((row) => !known.has(row.name)).map((row) => row.name),
      [],
    );
    assert.equal(byName.size, rows.length);
  });

  test('shows the same default and meaning as src/config/variables.ts', () => {
    const differences: string[] = [];
    for (const variable of variables) {
      const row = byName.get(variable.name);
      if (!row) continue;
      const expectedDefault = variable.default === null ? '—' : `\`${variable.default}\``;
      if (row.default !== expectedDefault) {
        differences.push(
          `${variable.name} default: README ${row.default}, code ${expectedDefault}`,
        );
      }
      if (row.meaning !== variable.description) {
        differences.push(
          `${variable.name} meaning: README "${row.meaning}", code "${variable.description}"`,
        );
      }
    }
    assert.deepEqual(differences, []);
  });
});
