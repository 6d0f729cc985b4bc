import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from './executor.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const defaultDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Reads `NNNN_name.sql` files in version order. */
export function loadMigrations(dir = defaultDir): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      sql: readFileSync(path.join(dir, file), 'utf8'),
    }));
}

// Any constant works; it only has to be the same in every Taskwire process.
const MIGRATION_LOCK_KEY = 7_413_221;

/**
 * Applies the migrations not applied yet, each in its own transaction, and returns their
 * names. Idempotent; safe when several instances start at once against one Postgres:
 * an advisory lock lets one of them migrate while the others wait and then find nothing to do.
 */
export async function migrate(db: Database, migrations = loadMigrations()): Promise<string[]> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS taskwire_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
  const applied: string[] = [];
  for (const migration of migrations) {
    const ran = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const done = await tx.query('SELECT 1 FROM taskwire_migrations WHERE version = $1', [
        migration.version,
      ]);
      if (done.length > 0) return false;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO taskwire_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (ran) applied.push(migration.name);
  }
  return applied;
}

/** Names of migrations present in the code but not applied to this database. */
export async function pendingMigrations(
  db: Database,
  migrations = loadMigrations(),
): Promise<string[]> {
  // No migrations table yet (undefined_table) means nothing is applied; any other error
  // (database unreachable) is the caller's to report, not "every migration pending".
  const rows = await db
    .query<{ version: number }>(`SELECT version FROM taskwire_migrations`)
    .catch((error: unknown) => {
      if ((error as { code?: unknown }).code === '42P01') return [] as { version: number }[];
      throw error;
    });
  const done = new Set(rows.map((row) => Number(row.version)));
  return migrations.filter((m) => !done.has(m.version)).map((m) => m.name);
}
