import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { variables } from '../src/config/variables.js';
import { DATABASE_RETRY_AFTER_SECONDS } from '../src/http/plugins/error-handler.js';
import {
  configDocPath,
  configurationDoc,
  configurationRow,
} from '../scripts/generate-config-doc.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const docsPages = readdirSync(path.join(root, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`);
const pages = ['README.md', ...docsPages];

/** The text outside code: links and headings inside fences or backticks are not links. */
const prose = (markdown: string) =>
  markdown.replaceAll(/^```[\s\S]*?^```/gm, '').replaceAll(/`[^`\n]*`/g, '');

/** GitHub's anchors for a page's headings (a repeated heading gets -1, -2, …). */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of markdown
    .replaceAll(/^```[\s\S]*?^```/gm, '')
    .matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = (heading as string)
      .toLowerCase()
      .replaceAll(/[^\p{L}\p{N}\s_-]/gu, '')
      .replaceAll(' ', '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Rows of the variables table in docs/configuration.md: name, default, meaning. */
function configurationRows(markdown: string) {
  return markdown.split('\n').flatMap((line) => {
    if (!line.startsWith('| `')) return [];
    // Cells are split on `|` not escaped as `\|`, as Markdown renders them.
    const cells = line
      .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim().replaceAll('\\|', '|'));
    const name = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0] ?? '')?.[1];
    if (!name || cells.length !== 3) return [{ name: name ?? line, default: '?', meaning: '?' }];
    return [{ name, default: cells[1] as string, meaning: cells[2] as string }];
  });
}

describe('docs/configuration.md', () => {
  test('is exactly what `npm run docs:config` writes from src/config/variables.ts', () => {
    assert.equal(
      readFileSync(configDocPath, 'utf8'),
      configurationDoc(),
      'docs/configuration.md is out of date: run `npm run docs:config` and commit the result',
    );
  });

  test('lists every variable once, with the default and meaning of src/config/variables.ts', () => {
    const rows = configurationRows(configurationDoc());
    assert.deepEqual(
      rows,
      variables.map((variable) => ({
        name: variable.name,
        default: variable.default === null ? '—' : `\`${variable.default}\``,
        meaning: variable.description,
      })),
    );
  });

  test('a `|` or a line break in a meaning stays inside its row and cell', () => {
    const line = configurationRow({
      name: 'X_TEST',
      default: 'a|b',
      description: 'one | two\nthree',
    });
    assert.deepEqual(configurationRows(line), [
      { name: 'X_TEST', default: '`a|b`', meaning: 'one | two three' },
    ]);
  });
});

describe('README.md', () => {
  const readme = read('README.md');

  test('is under 200 lines', () => {
    assert.ok(readme.split('\n').length < 200, `README.md has ${readme.split('\n').length} lines`);
  });

  test('keeps the pitch, the two commands, the walkthrough without Twilio and "Connect Twilio"', () => {
    assert.match(readme, /^npm install && npm start/m);
    assert.match(readme, /^npm test/m);
    assert.match(readme, /^### The whole loop on a laptop, without Twilio$/m);
    assert.match(readme, /^## Connect Twilio$/m);
  });

  test('links every page of docs/', () => {
    const linked = new Set(
      [...prose(readme).matchAll(/\]\((docs\/[^)#\s]+)/g)].map((match) => match[1]),
    );
    assert.deepEqual(
      docsPages.filter((page) => !linked.has(page)),
      [],
    );
  });
});

describe('links between README.md and docs/', () => {
  test('every relative link points to an existing file, and every #anchor to a heading there', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const [, target] of prose(read(page)).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target as string)) continue; // https:, mailto:
        const [file, anchor] = (target as string).split('#') as [string, string | undefined];
        const resolved = file === '' ? page : path.posix.join(path.posix.dirname(page), file);
        if (!existsSync(path.join(root, resolved))) {
          broken.push(`${page}: ${target} (no file ${resolved})`);
          continue;
        }
        if (anchor && resolved.endsWith('.md') && !anchorsOf(read(resolved)).has(anchor)) {
          broken.push(`${page}: ${target} (no heading #${anchor} in ${resolved})`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });
});

describe('docs/operations.md', () => {
  const operations = read('docs/operations.md');
  const defaultOf = (name: string) => variables.find((variable) => variable.name === name)?.default;

  test('says what happens when the database goes away, with the Retry-After the service sends', () => {
    const section = operations
      .split(/^## /m)
      .find((part) => part.startsWith('When the database goes away\n'));
    assert.ok(section, 'a "## When the database goes away" section');
    assert.match(
      section,
      new RegExp(`\`503\` with \`Retry-After: ${DATABASE_RETRY_AFTER_SECONDS}\``),
    );
    assert.match(section, /`\/ready`\*\* answers `503`/);
    assert.match(section, /`\/health`\*\* stays `200`/);
    assert.match(section, /reconnect with exponential back-off/);
  });

  test('says how fast a crash is recovered, with the default lease and its heartbeat', () => {
    const section = operations.split(/^## /m).find((part) => part.startsWith('Crash recovery\n'));
    assert.ok(section, 'a "## Crash recovery" section');
    const leaseMs = Number(defaultOf('WORKER_LEASE_MS'));
    assert.match(section, new RegExp(`\`WORKER_LEASE_MS\` \\(${leaseMs / 1000} s\\)`));
    assert.match(
      section,
      new RegExp(`every third of the lease \\(${Math.floor(leaseMs / 3000)} s\\)`),
    );
    assert.match(section, /Embedded database\*\*: the next process to start/);
  });

  test('names the start-up retry for an unreachable Postgres with its default', () => {
    const seconds = Number(defaultOf('DATABASE_CONNECT_TIMEOUT_MS')) / 1000;
    assert.match(operations, new RegExp(`\`DATABASE_CONNECT_TIMEOUT_MS\` \\(${seconds} s\\)`));
  });
});
