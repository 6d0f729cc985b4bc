// `npm test`'s test step: runs every test/**/*.test.ts with Node's own test runner (tsx
// compiles TypeScript on the fly). Prepares the cached PGlite template first so that
// each test file can open a fresh embedded database in under a second.
// Usage: node scripts/run-tests.mjs [filter...]   (filters match file paths)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const filters = process.argv.slice(2);
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'helpers' ? [] : walk(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
const files = walk('test')
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`No test files match ${filters.join(' ')}`);
  process.exit(1);
}

const prepare = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '-e',
    "await (await import('./src/db/pglite-template.ts')).ensurePgliteTemplate()",
  ],
  { stdio: 'inherit' },
);
if (prepare.status !== 0) process.exit(prepare.status ?? 1);

if (!process.env.TEST_DATABASE_URL) {
  console.error(
    'TEST_DATABASE_URL is not set: the Postgres runs of the database tests will be skipped.\n' +
      'Set it to a Postgres server (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run them.',
  );
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit', env: { ...process.env, TASKWIRE_TEST: '1' } },
);
process.exit(result.status ?? 1);
