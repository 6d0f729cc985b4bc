import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Database } from '../../src/db/executor.js';
import { migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { ensurePgliteTemplate } from '../../src/db/pglite-template.js';
import { openPostgres } from '../../src/db/postgres.js';

export type EngineName = 'pglite' | 'postgres';

export interface TestDatabase {
  engine: EngineName;
  db: Database;
  /** For Postgres: the connection string of this test's own database (for child processes). */
  url: string | null;
  /** For PGlite: the folder that holds the cluster (for child processes, after `db.close()`). */
  dataDir: string | null;
  /** Closes the connection and deletes the database. */
  destroy(): Promise<void>;
}

export interface Engine {
  name: EngineName;
  /** A reason to skip, or false when this engine is available. */
  skip: string | false;
  /** A new, empty, migrated database of its own. */
  create(options?: { migrate?: boolean }): Promise<TestDatabase>;
}

const postgresAdminUrl = process.env.TEST_DATABASE_URL ?? null;

/** A fresh folder for one test's files, removed by the returned function. */
export function makeTempDir(prefix = 'taskwire-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const pgliteEngine: Engine = {
  name: 'pglite',
  skip: false,
  async create(options = {}) {
    const temp = makeTempDir('taskwire-pglite-');
    const dataDir = path.join(temp.dir, 'pglite');
    const db = await openPglite({ dataDir, templateDir: await ensurePgliteTemplate() });
    if (options.migrate !== false) await migrate(db);
    let closed = false;
    return {
      engine: 'pglite',
      db,
      url: null,
      dataDir,
      async destroy() {
        if (!closed) {
          closed = true;
          await db.close().catch(() => {});
        }
        temp.remove();
      },
    };
  },
};

/** Creates `taskwire_test_<random>` on the TEST_DATABASE_URL server, and drops it after. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!postgresAdminUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `taskwire_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const cleanup = new pg.Client({ connectionString: postgresAdminUrl });
      await cleanup.connect();
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}

const postgresEngine: Engine = {
  name: 'postgres',
  skip: postgresAdminUrl
    ? false
    : 'TEST_DATABASE_URL is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run on Postgres',
  async create(options = {}) {
    const created = await createPostgresDatabase();
    const db = await openPostgres({ connectionString: created.url, poolSize: 10 });
    if (options.migrate !== false) await migrate(db);
    let closed = false;
    return {
      engine: 'postgres',
      db,
      url: created.url,
      dataDir: null,
      async destroy() {
        if (!closed) {
          closed = true;
          await db.close().catch(() => {});
        }
        await created.drop();
      },
    };
  },
};

/**
 * The skip reason of a test whose point is how concurrent transactions wait for one another
 * (row locks, SKIP LOCKED, advisory locks): PGlite runs one transaction at a time, so there
 * it would pass whatever the locking did. `test(name, { skip: postgresOnly(engine) }, ...)`.
 */
export const postgresOnly = (engine: Engine): string | false =>
  engine.name === 'postgres'
    ? engine.skip
    : 'a lock test: PGlite runs one transaction at a time, so no transaction can wait for ' +
      "another's lock there; it runs on Postgres (TEST_DATABASE_URL)";

/**
 * How many sessions of this Postgres database are waiting for a lock (`event`: only those
 * waiting for that kind, e.g. 'advisory', 'transactionid' for a row lock). Lets a test see a
 * transaction blocked instead of sleeping and assuming it would have been.
 */
export async function lockWaiters(db: Database, event?: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND wait_event_type = 'Lock'
       AND ($1::text IS NULL OR wait_event = $1)`,
    [event ?? null],
  );
  return row?.n ?? 0;
}

/** Every engine: database tests run once per engine (`for (const engine of engines) describe(...)`). */
export const engines: readonly Engine[] = [pgliteEngine, postgresEngine];
export const postgres = postgresEngine;
export const pglite = pgliteEngine;
