import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';

// The layering of CONTRIBUTING.md ("imports point down") is only as real as the lint rule
// that checks it: each case lints a one-line module placed in a layer and asks whether
// import-x/no-restricted-paths refuses it.
const eslint = new ESLint({ cwd: process.cwd() });

async function refusedImports(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === 'import-x/no-restricted-paths')
    .map((message) => message.message);
}

describe('the import direction between layers', () => {
  test('a route may not query the database: it calls a use case in services/', async () => {
    const refused = await refusedImports(
      'src/http/routes/probe.ts',
      "import { listFeed } from '../../db/feed.js';\nexport const probe = listFeed;\n",
    );
    assert.equal(refused.length, 1);
    assert.match(refused[0] as string, /use cases in services\//);
  });

  test("a route may name the executor's types, and call a use case", async () => {
    const refused = await refusedImports(
      'src/http/routes/probe.ts',
      "import type { Queryable } from '../../db/executor.js';\n" +
        "import { listFeed } from '../../services/feed.js';\n" +
        'export const probe = (db: Queryable) => listFeed({ db }, { limit: 1, offset: 0 });\n',
    );
    assert.deepEqual(refused, []);
  });

  test('storage-urls and plugins may not query the database either', async () => {
    const urls = await refusedImports(
      'src/http/storage-urls.ts',
      "import { listMessages } from '../db/messages.js';\nexport const probe = listMessages;\n",
    );
    assert.equal(urls.length, 1);
    const plugin = await refusedImports(
      'src/http/plugins/probe.ts',
      "import { queueDepth } from '../../db/message-queue.js';\n" +
        "import { isDataError } from '../../db/data-errors.js';\n" +
        'export const probe = [queueDepth, isDataError];\n',
    );
    // Only the query module: recognising the drivers' errors is the error handler's job.
    assert.equal(plugin.length, 1);
    assert.match(plugin[0] as string, /Plugins call use cases/);
  });

  test('a use case may query the database', async () => {
    const refused = await refusedImports(
      'src/services/probe.ts',
      "import { listFeed } from '../db/feed.js';\nexport const probe = listFeed;\n",
    );
    assert.deepEqual(refused, []);
  });

  test('the domain imports nothing else from src/ (imports of .js name .ts files)', async () => {
    const refused = await refusedImports(
      'src/domain/probe.ts',
      "import { listFeed } from '../db/feed.js';\nexport const probe = listFeed;\n",
    );
    assert.equal(refused.length, 1);
    assert.match(refused[0] as string, /domain\/ is the bottom layer/);
  });
});
