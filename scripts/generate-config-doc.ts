// Writes docs/configuration.md from src/config/variables.ts, the one list of variables
// Taskwire reads. `npm run docs:config` after changing a variable; test/docs.test.ts fails
// while the committed file differs from what this script writes.
// Usage: tsx scripts/generate-config-doc.ts
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { variables, type VariableSpec } from '../src/config/variables.js';

export const configDocPath = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

// A `|` inside a cell would end it; a line break would end the row.
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** One row of the table. */
export const configurationRow = (variable: VariableSpec) =>
  `| \`${variable.name}\` | ${variable.default === null ? '—' : `\`${cell(variable.default)}\``} | ${cell(variable.description)} |`;

/** The whole of docs/configuration.md. */
export function configurationDoc(): string {
  return [
    '# Configuration',
    '',
    '<!-- Generated from src/config/variables.ts by `npm run docs:config`; edit that file, not this one. -->',
    '',
    'Taskwire reads its settings once at start-up, from the environment and an optional `.env`',
    'file in the working folder (the environment wins). Invalid values stop the process with a',
    'list of every problem. `npx taskwire config` shows the value in effect of each variable',
    'and where it comes from (environment, `.env`, generated development secret or default),',
    'secrets masked, and exits 1 listing every invalid one.',
    '',
    '| Variable | Default | Meaning |',
    '| --- | --- | --- |',
    ...variables.map(configurationRow),
    '',
    'In development (`NODE_ENV` not `production`), a missing `API_TOKEN` or `TWILIO_AUTH_TOKEN` is',
    'generated once, kept in `DATA_DIR/secrets.json`, and the API token is printed at start-up.',
    'With `NODE_ENV=production` both are required.',
    '',
    'More on the settings of each part: [storage](storage.md), [processing](how-it-works.md#processing),',
    '[the database](deploy.md#database), [Railway and Supabase](deploy.md), [operations](operations.md).',
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  writeFileSync(configDocPath, configurationDoc());
  console.error(
    `wrote ${path.relative(process.cwd(), configDocPath)} (${variables.length} variables)`,
  );
}
