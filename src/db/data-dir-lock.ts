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

/** Blocks this thread for `ms` (lockDataDir runs once, at start, before the server listens). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** The pid a lock or takeover file names, or NaN when it is empty or garbled. */
const pidIn = (content: string) => Number.parseInt(content.trim(), 10);

/**
 * Whether the file's content names a process that may still hold it. Our own pid in a file
 * we did not create is a leftover from an earlier container run, where every process is
 * pid 1.
 */
const namesLiveHolder = (content: string): boolean => {
  const holder = pidIn(content);
  return Number.isInteger(holder) && holder !== process.pid && mayHoldLock(holder);
};

/** The file's content, or null when it is gone. */
const readIfPresent = (file: string): string | null => {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
};

/**
 * Removes a file found stale, but only if it still holds what was judged stale: moved
 * aside first (atomic), then compared, and put back when it changed meanwhile.
 */
function removeIfUnchanged(file: string, staleContent: string): void {
  const aside = sideFile(file, 'stale');
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (readFileSync(aside, 'utf8') !== staleContent) {
    try {
      linkSync(aside, file);
    } catch {
      // Taken again meanwhile; that one stands.
    }
  }
  rmSync(aside, { force: true });
}

type Takeover = 'removed' | 'not stale' | 'busy';

/**
 * Removes a stale lock file under a second, short-lived lock, `<file>.takeover`, so that of
 * processes starting at once after a crash only one judges and removes it. Without it, one
 * could remove a lock another had taken a moment before, from a stale file both had read,
 * and both would run on the folder. The takeover file is held for a few system calls; one
 * left by a process that died holding it is removed as a stale lock file was before, by
 * moving it aside and comparing. That path keeps the old race (several processes starting
 * at once, after a crash in those few calls, could both get through); paths offer no atomic
 * compare-and-remove, and Node no flock().
 */
function removeStaleLockFile(file: string): Takeover {
  const takeover = `${file}.takeover`;
  try {
    createLockFile(takeover);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const content = readIfPresent(takeover);
    if (content !== null && !namesLiveHolder(content)) removeIfUnchanged(takeover, content);
    return 'busy';
  }
  try {
    const content = readIfPresent(file);
    if (content === null || namesLiveHolder(content)) return 'not stale';
    // Only a takeover holder removes a lock file, and nobody writes one that exists: it
    // still holds what was just read.
    rmSync(file, { force: true });
    return 'removed';
  } finally {
    rmSync(takeover, { force: true });
  }
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
  // Gives up after about a second of finding the takeover busy (another process is
  // taking the folder over at this moment; it holds the takeover for microseconds).
  for (let attempt = 0; attempt < 200; attempt += 1) {
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
      // Released by its holder between our link and our read: try again.
      const content = readIfPresent(file);
      if (content === null) continue;
      if (namesLiveHolder(content)) throw new DataDirLockedError(dataDir, pidIn(content));
      if (removeStaleLockFile(file) === 'busy') pause(5);
    }
  }
  throw new Error(
    `Could not take the lock file ${file}: another process kept ${file}.takeover for over a ` +
      'second. Remove both files if no Taskwire process runs.',
  );
}
