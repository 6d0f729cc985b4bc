import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Queryable } from '../src/db/executor.js';
import { loadMigrations, migrate, pendingMigrations } from '../src/db/migrate.js';
import {
  ensureMigratedPgliteTemplate,
  ensurePgliteTemplate,
  pruneStalePgliteTemplates,
} from '../src/db/pglite-template.js';
import { openPostgres } from '../src/db/postgres.js';
import {
  createPostgresDatabase,
  engines,
  makeTempDir,
  postgres,
  type TestDatabase,
} from './helpers/databases.js';

/** The columns of the original guide, which must keep their names. */
const guideColumns: Record<string, string[]> = {
  users: ['id', 'created_at', 'username', 'phone_number', 'points'],
  tasks: ['id', 'created_at', 'user_id', 'description', 'due_time', 'status'],
  feed: ['id', 'created_at', 'user_id', 'task_id', 'image_url', 'status', 'post_content'],
  messages: [
    'id',
    'message_sid',
    'from_number',
    'to_number',
    'body',
    'num_media',
    'media_items',
    'created_at',
    'processed',
    'storage_urls',
  ],
};

const allNames = () => loadMigrations().map((m) => m.name);

async function columnsOf(db: Queryable, table: string): Promise<Map<string, string>> {
  const rows = await db.query<{ column_name: string; data_type: string }>(
    `SELECT column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = $1`,
    [table],
  );
  return new Map(rows.map((row) => [row.column_name, row.data_type]));
}

/** Single-column UNIQUE (or primary key) constraints of `table`, by column. */
async function uniqueColumns(db: Queryable, table: string): Promise<string[]> {
  const rows = await db.query<{ column_name: string }>(
    `SELECT k.column_name
       FROM information_schema.table_constraints c
       JOIN information_schema.key_column_usage k
         ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
      WHERE c.table_schema = 'public' AND c.table_name = $1 AND c.constraint_type = 'UNIQUE'
        AND (SELECT count(*) FROM information_schema.key_column_usage k2
              WHERE k2.constraint_name = c.constraint_name
                AND k2.table_schema = c.table_schema) = 1`,
    [table],
  );
  return rows.map((row) => row.column_name).sort();
}

test('migrations are numbered NNNN_name.sql, start with 0001_initial and are read in order', () => {
  const migrations = loadMigrations();
  assert.equal(migrations[0]?.name, '0001_initial');
  assert.equal(migrations[0]?.version, 1);
  const versions = migrations.map((m) => m.version);
  assert.deepEqual(
    versions,
    [...versions].sort((a, b) => a - b),
  );
  assert.equal(new Set(versions).size, versions.length);
  for (const m of migrations) assert.match(m.name, /^\d{4}_[\w-]+$/);
});

test('loadMigrations reads only NNNN_name.sql files, sorted by number', (t) => {
  const temp = makeTempDir();
  t.after(() => temp.remove());
  writeFileSync(path.join(temp.dir, '0002_second.sql'), 'SELECT 2;');
  writeFileSync(path.join(temp.dir, '0001_first.sql'), 'SELECT 1;');
  writeFileSync(path.join(temp.dir, 'README.md'), '# not a migration');
  writeFileSync(path.join(temp.dir, '0003_draft.sql.bak'), 'SELECT 3;');
  assert.deepEqual(loadMigrations(temp.dir), [
    { version: 1, name: '0001_first', sql: 'SELECT 1;' },
    { version: 2, name: '0002_second', sql: 'SELECT 2;' },
  ]);
});

for (const engine of engines) {
  // One database for the whole sequence (each fresh PGlite costs seconds): migrated by the
  // first test, inspected by the next ones.
  describe(`migrate [${engine.name}]`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    before(async () => {
      database = await engine.create({ migrate: false });
    });
    after(async () => database?.destroy());

    test('a fresh database gets every migration once; the second run applies nothing', async () => {
      const { db } = database;
      assert.deepEqual(await pendingMigrations(db), allNames());

      const first = await migrate(db);
      assert.deepEqual(first, allNames());
      assert.ok(first.includes('0001_initial'));
      assert.deepEqual(await pendingMigrations(db), []);

      assert.deepEqual(await migrate(db), []);
      const recorded = await db.query<{ version: number; name: string }>(
        'SELECT version, name FROM taskwire_migrations ORDER BY version',
      );
      assert.deepEqual(
        recorded.map((row) => row.name),
        allNames(),
      );
    });

    test('users, tasks, feed and messages have the guide’s columns', async () => {
      for (const [table, expected] of Object.entries(guideColumns)) {
        const columns = await columnsOf(database.db, table);
        const missing = expected.filter((column) => !columns.has(column));
        assert.deepEqual(missing, [], `${table} lacks ${missing.join(', ')}`);
      }
      const messages = await columnsOf(database.db, 'messages');
      assert.equal(messages.get('created_at'), 'timestamp with time zone');
      assert.equal(messages.get('processed'), 'boolean');
      assert.equal(messages.get('media_items'), 'jsonb');
      assert.equal(messages.get('storage_urls'), 'jsonb');
      assert.equal(messages.get('id'), 'bigint');
      const tasks = await columnsOf(database.db, 'tasks');
      assert.equal(tasks.get('due_time'), 'timestamp with time zone');
    });

    test('users.phone_number and messages.message_sid are unique', async () => {
      const { db } = database;
      assert.ok((await uniqueColumns(db, 'users')).includes('phone_number'));
      assert.ok((await uniqueColumns(db, 'messages')).includes('message_sid'));

      await db.query(`INSERT INTO users (username, phone_number) VALUES ('ada', '+15550001111')`);
      await assert.rejects(
        db.query(`INSERT INTO users (username, phone_number) VALUES ('eve', '+15550001111')`),
        (error: { code?: string }) => error.code === '23505',
      );
      const insertMessage = `INSERT INTO messages (message_sid, from_number, to_number, sender)
        VALUES ('SM0001', 'whatsapp:+15550001111', 'whatsapp:+14155238886', '+15550001111')`;
      await db.query(insertMessage);
      await assert.rejects(
        db.query(insertMessage),
        (error: { code?: string }) => error.code === '23505',
      );
    });

    test('a failing migration is rolled back and not recorded; fixed, it applies', async () => {
      const { db } = database;
      const existing = loadMigrations();
      const broken = {
        version: 9001,
        name: '9001_broken',
        sql: 'CREATE TABLE half_done (id int); SELECT no_such_column FROM half_done;',
      };
      await assert.rejects(migrate(db, [...existing, broken]), /no_such_column/);
      const leftovers = await db.query(
        `SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'`,
      );
      assert.equal(leftovers.length, 0);
      assert.deepEqual(await pendingMigrations(db, [...existing, broken]), ['9001_broken']);

      const fixed = { ...broken, sql: 'CREATE TABLE half_done (id int);' };
      assert.deepEqual(await migrate(db, [...existing, fixed]), ['9001_broken']);
      assert.deepEqual(await pendingMigrations(db, [...existing, fixed]), []);
    });

    test('on a closed database, pendingMigrations fails instead of reporting all pending', async () => {
      await database.db.close();
      await assert.rejects(pendingMigrations(database.db));
    });
  });

  describe(`concurrent migrate [${engine.name}]`, { skip: engine.skip }, () => {
    test('two concurrent migrate() calls on one database both succeed and apply once', async (t) => {
      const fresh = await engine.create({ migrate: false });
      t.after(() => fresh.destroy());
      const results = await Promise.all([migrate(fresh.db), migrate(fresh.db)]);
      assert.deepEqual(results.flat().sort(), allNames());
      assert.deepEqual(await pendingMigrations(fresh.db), []);
    });
  });
}

describe('migrate on Postgres from several processes', { skip: postgres.skip }, () => {
  test('two pools migrating one database at once both succeed and apply each migration once', async (t) => {
    const created = await createPostgresDatabase();
    t.after(() => created.drop());
    const a = await openPostgres({ connectionString: created.url, poolSize: 2 });
    const b = await openPostgres({ connectionString: created.url, poolSize: 2 });
    t.after(async () => {
      await a.close();
      await b.close();
    });

    const [fromA, fromB] = await Promise.all([migrate(a), migrate(b)]);
    assert.deepEqual([...fromA, ...fromB].sort(), allNames());
    const recorded = await a.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM taskwire_migrations',
    );
    assert.equal(recorded[0]?.n, allNames().length);
    assert.deepEqual(await pendingMigrations(b), []);
    assert.deepEqual(await migrate(b), []);
  });
});

describe('cached PGlite templates', () => {
  test('npm install prunes templates of other PGlite versions or migration sets, keeping the current ones', async () => {
    const pristine = await ensurePgliteTemplate();
    const migrated = await ensureMigratedPgliteTemplate();
    const cache = path.dirname(migrated);
    const stale = path.join(cache, `pglite-0.0.0-migrated-test${process.pid}`);
    const building = path.join(
      cache,
      `pglite-0.0.0-migrated-test${process.pid}.tmp-${process.pid}`,
    );
    // A process id that is not running (above Linux's default pid_max).
    const abandoned = path.join(cache, `pglite-0.0.0-migrated-test${process.pid}.tmp-4999999`);
    for (const dir of [stale, building, abandoned]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'PG_VERSION'), '17\n');
    }
    try {
      const removed = pruneStalePgliteTemplates([pristine, migrated]);
      assert.ok(removed.includes(path.basename(stale)));
      assert.equal(existsSync(stale), false, 'an outdated template is removed');
      assert.equal(existsSync(building), true, 'a template being built is left alone');
      assert.equal(existsSync(abandoned), false, 'one its dead builder left behind is removed');
      assert.equal(existsSync(path.join(pristine, 'PG_VERSION')), true);
      assert.equal(existsSync(path.join(migrated, 'PG_VERSION')), true);
    } finally {
      rmSync(stale, { recursive: true, force: true });
      rmSync(building, { recursive: true, force: true });
      rmSync(abandoned, { recursive: true, force: true });
    }
  });
});
