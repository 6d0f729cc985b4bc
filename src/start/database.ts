import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { lockDataDir } from '../db/data-dir-lock.js';
import { describeTarget } from '../db/connection-errors.js';
import type { Database } from '../db/executor.js';
import { pendingMigrations } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { ensureMigratedPgliteTemplate, pgliteTemplateDir } from '../db/pglite-template.js';
import { releaseEveryClaim } from '../db/release-claims.js';
import { openPostgres } from '../db/postgres.js';

export interface OpenedDatabase {
  db: Database;
  /** Closes the database and releases the DATA_DIR lock, in that order. */
  release(): Promise<void>;
  description: string;
}

/**
 * Postgres when DATABASE_URL is set, else the embedded database in DATA_DIR (one process
 * only). A Postgres server that is not reachable yet is retried for
 * DATABASE_CONNECT_TIMEOUT_MS (each retry logged on `log`), then a DatabaseConnectError
 * says in one line what to check.
 */
export async function openDatabase(
  config: Config,
  log?: { warn(obj: object, msg: string): void },
): Promise<OpenedDatabase> {
  if (config.databaseUrl) {
    const target = describeTarget(config.databaseUrl);
    const db = await openPostgres({
      connectionString: config.databaseUrl,
      poolSize: config.databasePoolSize,
      startupRetryMs: config.databaseConnectTimeoutMs,
      onStartupRetry: (error, waitedMs) =>
        log?.warn(
          { database: target, err: (error as Error).message, waitedMs },
          'database not reachable yet; retrying',
        ),
    });
    const url = new URL(config.databaseUrl);
    return {
      db,
      release: () => db.close(),
      description: `Postgres at ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`,
    };
  }
  const unlock = lockDataDir(config.dataDir);
  try {
    const dataDir = path.join(config.dataDir, 'pglite');
    const db = await openPglite({ dataDir, templateDir: await templateFor(dataDir) });
    // The lock is ours: any claim in here was left by a process that died (see releaseEveryClaim).
    await releaseEveryClaim(db).catch(async (error: unknown) => {
      await db.close().catch(() => {});
      throw error;
    });
    return {
      db,
      async release() {
        try {
          await db.close();
        } finally {
          unlock();
        }
      },
      description: `embedded PGlite in ${dataDir}`,
    };
  } catch (error) {
    unlock();
    throw error;
  }
}

/**
 * The cluster a new data folder starts from: the migrated template (built on first need,
 * then cached), so a fresh start skips the migrations; the pristine template when the
 * migrated one cannot be built (a read-only install), and the migrations run as usual.
 */
async function templateFor(dataDir: string): Promise<string> {
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) return pgliteTemplateDir();
  try {
    return await ensureMigratedPgliteTemplate();
  } catch {
    return pgliteTemplateDir();
  }
}

/**
 * /ready's answer about the database: empty when it is reachable and migrated, else the
 * problem. Every call asks the database, so /ready turns 503 while it is unreachable and
 * 200 again as soon as it is back.
 */
export async function databaseReadiness(db: Database): Promise<string[]> {
  try {
    const pending = await pendingMigrations(db);
    return pending.length > 0 ? [`migrations not applied: ${pending.join(', ')}`] : [];
  } catch (error) {
    return [`database unreachable: ${(error as Error).message}`];
  }
}
