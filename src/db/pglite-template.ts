import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Where a pristine PGlite cluster is cached: creating one (initdb in WebAssembly) takes
 * seconds, copying one takes milliseconds. Keyed by the PGlite version, whose on-disk
 * format it must match.
 */
export function pgliteTemplateDir(): string {
  let version = 'unknown';
  try {
    // The package does not export its package.json; read it next to its entry point.
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    const root = entry.slice(0, entry.lastIndexOf(`${path.sep}dist${path.sep}`));
    version = (
      JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }
    ).version;
  } catch {
    // Unusual layouts: fall back to one shared key.
  }
  return path.join(packageRoot, 'node_modules', '.cache', 'taskwire', `pglite-${version}`);
}

/** Creates the template if it is missing. Safe against concurrent callers (atomic rename). */
export async function ensurePgliteTemplate(dir = pgliteTemplateDir()): Promise<string> {
  if (existsSync(path.join(dir, 'PG_VERSION'))) return dir;
  const scratch = `${dir}.tmp-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(path.dirname(dir), { recursive: true });
  const pg = await PGlite.create(scratch);
  await pg.close();
  try {
    renameSync(scratch, dir);
  } catch {
    // Someone else finished first; theirs is as good as ours.
    rmSync(scratch, { recursive: true, force: true });
  }
  return dir;
}
