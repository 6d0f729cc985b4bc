import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { type Migration, loadMigrations, migrate } from './migrate.js';
import { openPglite } from './pglite.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cacheDir = path.join(packageRoot, 'node_modules', '.cache', 'taskwire');

/** The installed PGlite's version, whose on-disk format a template must match. */
function pgliteVersion(): string {
  try {
    // The package does not export its package.json; read it next to its entry point.
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    const root = entry.slice(0, entry.lastIndexOf(`${path.sep}dist${path.sep}`));
    return (
      JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }
    ).version;
  } catch {
    // Unusual layouts: fall back to one shared key.
    return 'unknown';
  }
}

/**
 * Where a pristine PGlite cluster is cached: creating one (initdb in WebAssembly) takes
 * seconds, copying one takes milliseconds. Keyed by the PGlite version.
 */
export function pgliteTemplateDir(): string {
  return path.join(cacheDir, `pglite-${pgliteVersion()}`);
}

/**
 * Where a cluster with every migration applied is cached, for new service data folders:
 * opening a fresh database then skips the migrations (0.4 s at start-up). Keyed by the
 * PGlite version and a hash of the migration files, so a changed or added migration
 * gives a new template instead of a stale one.
 */
export function migratedPgliteTemplateDir(migrations: Migration[] = loadMigrations()): string {
  const hash = createHash('sha256');
  for (const migration of migrations) hash.update(`${migration.name}\0${migration.sql}\0`);
  return path.join(
    cacheDir,
    `pglite-${pgliteVersion()}-migrated-${hash.digest('hex').slice(0, 16)}`,
  );
}

/** Creates the template if it is missing. Safe against concurrent callers (atomic rename). */
export async function ensurePgliteTemplate(dir = pgliteTemplateDir()): Promise<string> {
  return buildOnce(dir, async (scratch) => {
    const pg = await PGlite.create(scratch);
    await pg.close();
  });
}

/**
 * Creates the migrated template if it is missing: a copy of the pristine one (created
 * too when missing), migrated and closed cleanly.
 */
export async function ensureMigratedPgliteTemplate(
  migrations: Migration[] = loadMigrations(),
  dir = migratedPgliteTemplateDir(migrations),
): Promise<string> {
  return buildOnce(dir, async (scratch) => {
    const db = await openPglite({ dataDir: scratch, templateDir: await ensurePgliteTemplate() });
    try {
      await migrate(db, migrations);
    } finally {
      await db.close();
    }
  });
}

/** Whether process `pid` is still running on this machine. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the cached templates other than `keep` (each ~40 MB): those of an earlier PGlite
 * version or migration set, and half-built ones (`.tmp-<pid>`) left by a process that died.
 * For `npm install`, when no service should be copying one; a build still running is left
 * alone. Returns the names removed.
 */
export function pruneStalePgliteTemplates(keep: readonly string[]): string[] {
  if (!existsSync(cacheDir)) return [];
  const kept = new Set(keep.map((dir) => path.basename(dir)));
  const stale = readdirSync(cacheDir).filter((name) => {
    if (!name.startsWith('pglite-') || kept.has(name)) return false;
    const building = /\.tmp-(\d+)$/.exec(name);
    return !building || !processAlive(Number(building[1]));
  });
  for (const name of stale) rmSync(path.join(cacheDir, name), { recursive: true, force: true });
  return stale;
}

/**
 * Builds a template in a scratch folder of this process and renames it into place, so
 * nobody ever copies a half-built one; when two processes build at once, both results
 * are equally good and the first rename wins.
 */
async function buildOnce(dir: string, build: (scratch: string) => Promise<void>) {
  if (existsSync(path.join(dir, 'PG_VERSION'))) return dir;
  const scratch = `${dir}.tmp-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(path.dirname(dir), { recursive: true });
  try {
    await build(scratch);
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
  try {
    renameSync(scratch, dir);
  } catch {
    // Someone else finished first; theirs is as good as ours.
    rmSync(scratch, { recursive: true, force: true });
  }
  return dir;
}
