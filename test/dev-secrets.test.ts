import assert from 'node:assert/strict';
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadOrCreateDevSecrets } from '../src/config/dev-secrets.js';
import { makeTempDir } from './helpers/databases.js';

const modeOf = (file: string) => statSync(file).mode & 0o777;

describe(
  'DATA_DIR/secrets.json is 0600 whenever it is written',
  { skip: process.platform === 'win32' },
  () => {
    test('a garbled secrets.json readable by others is rewritten with fresh secrets, 0600', (t) => {
      const temp = makeTempDir();
      t.after(() => temp.remove());
      const file = path.join(temp.dir, 'secrets.json');
      for (const content of ['{ not json', '{"apiToken":"only one"}\n']) {
        writeFileSync(file, content);
        chmodSync(file, 0o644);
        assert.equal(modeOf(file), 0o644);
        const secrets = loadOrCreateDevSecrets(temp.dir);
        assert.equal(modeOf(file), 0o600, `after ${JSON.stringify(content)}`);
        assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), secrets);
      }
      // No temporary file is left next to it.
      assert.deepEqual(readdirSync(temp.dir), ['secrets.json']);
    });

    test('an existing valid secrets.json readable by others keeps its values and becomes 0600', (t) => {
      const temp = makeTempDir();
      t.after(() => temp.remove());
      const file = path.join(temp.dir, 'secrets.json');
      const stored = { apiToken: 'a'.repeat(48), twilioAuthToken: 'b'.repeat(32) };
      writeFileSync(file, JSON.stringify(stored));
      chmodSync(file, 0o644);
      assert.deepEqual(loadOrCreateDevSecrets(temp.dir), stored);
      assert.equal(modeOf(file), 0o600);
    });
  },
);
