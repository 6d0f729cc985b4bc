import { randomBytes } from 'node:crypto';
import {
  linkSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(
      `Another Taskwire process (pid ${holderPid}) is using the embedded database in ${dataDir}.\n` +
        'The embedded database (PGlite) belongs to one process: a second one would silently lose writes.\n' +
        'Stop the other process, give this one its own DATA_DIR, or, to run several processes,\n' +
        'set DATABASE_URL to a Postgres database that they share.',
    );
    this.name = 'DataDirLockedError';
  }
}

const exists = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** A file under /proc/<pid>/, or null where there is no /proc (macOS) or it is hidden. */
const procFile = (pid: number, name: string): string | null => {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return null;
  }
};

// Runtimes a Taskwire process runs under (`node dist/cli/main.js`, `npx taskwire`, tsx).
const RUNTIME = /^(node|nodejs|bun|deno|tsx)(\d[\d.]*)?(\.exe)?$/i;

/**
 * Whether `pid` may be a live Taskwire process holding the lock. After a crash its pid can
 * name something else: a zombie (state Z: it exited, its parent has not reaped it, so it
 * still answers `kill(pid, 0)`), or, after pid reuse (a container restarted, pids counting
 * from 1 again), another program. Where /proc cannot tell, a live pid counts as a holder.
 */
export function mayHoldLock(pid: number): boolean {
  if (!exists(pid)) return false;
  const stat = procFile(pid, 'stat');
  if (stat === null) return true;
  // `pid (comm) state …`: comm may itself hold spaces and parentheses, so the last `)`.
  const state = stat.slice(stat.lastIndexOf(')') + 1).trim()[0];
  if (state === 'Z' || state === 'X') return false;
  const cmdline = procFile(pid, 'cmdline');
  if (cmdline === null) return true;
  const args = cmdline.split('\0').filter((arg) => arg.length > 0);
  // Empty for kernel threads and for a process already exiting.
  if (args.length === 0) return false;
  const program = path.basename(args[0] as string);
  return RUNTIME.test(program) || args.some((arg) => /taskwire/i.test(arg));
}

// Lock files this process created and still holds: a file naming our own pid is a
// leftover only when it is not one of these.
const heldByThisProcess = new Set<string>();

/** A file beside `file` that only this call uses: `<file>.<pid>.<random>.<purpose>`. */
const sideFile = (file: string, purpose: string) =>
  `${file}.${process.pid}.${randomBytes(4).toString('hex')}.${purpose}`;

/**
 * Creates `file` holding our pid, or fails with EEXIST. Written to a file of our own and
 * then linked into place, so the lock file never exists empty: a process starting at the
 * same moment would read an empty file as a dead holder's and take the folder too.
 */
function createLockFile(file: string): void {
  const temp = sideFile(file, 'new');
  writeFileSync(temp, `${process.pid}\n`, { mode: 0o644 });
  try {
    linkSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * Removes a lock file found stale, but only if it still holds what was judged stale: moved
 * aside first (atomic), then compared. When two processes find the same stale file at
 * once, only one moves it; the other finds nothing to move, and neither removes a lock
 * that a third process took meanwhile (it is put back).
 */
function removeStaleLockFile(file: string, staleContent: string): void {
  const aside = sideFile(file, 'stale');
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = readFileSync(aside, 'utf8');
  if (moved !== staleContent) {
    // A live lock taken since we read the stale one: put it back where its holder left it.
    try {
      linkSync(aside, file);
    } catch {
      // Another process took the folder meanwhile; theirs stands.
    }
  }
  rmSync(aside, { force: true });
}

/**
 * Takes the DATA_DIR for this process, like Postgres' postmaster.pid: a lock file holding
 * our pid, created exclusively. A file left by a process that died (SIGKILL, power loss)
 * names a pid that no longer runs (or now names a zombie or another program, see
 * mayHoldLock), and is taken over. Returns the release function.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(realpathSync(dataDir), 'taskwire.pid');
  if (heldByThisProcess.has(file)) throw new DataDirLockedError(dataDir, process.pid);
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      createLockFile(file);
      heldByThisProcess.add(file);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        heldByThisProcess.delete(file);
        rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let content: string;
      try {
        content = readFileSync(file, 'utf8');
      } catch (readError) {
        // Released by its holder between our open and our read: try again.
        if ((readError as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw readError;
      }
      const holder = Number.parseInt(content.trim(), 10);
      // Our own pid in a file we did not create is a leftover from an earlier container
      // run, where every process is pid 1.
      if (Number.isInteger(holder) && holder !== process.pid && mayHoldLock(holder)) {
        throw new DataDirLockedError(dataDir, holder);
      }
      removeStaleLockFile(file, content);
    }
  }
  throw new Error(`Could not take the lock file ${file}; remove it if no Taskwire process runs.`);
}
