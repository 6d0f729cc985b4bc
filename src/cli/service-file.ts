import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mayHoldLock } from '../db/data-dir-lock.js';

/**
 * Where a `taskwire serve` on the embedded database can be reached, for the commands that
 * cannot open its DATA_DIR meanwhile (`taskwire send`): DATA_DIR/service.json, beside the
 * lock file taskwire.pid, written once the service listens and removed when it stops.
 * Trusted only while the lock file names the same live process.
 */
const serviceFile = (dataDir: string) => path.join(dataDir, 'service.json');
const lockFile = (dataDir: string) => path.join(dataDir, 'taskwire.pid');

/** A listening address as this machine reaches it: the wildcard becomes the loopback. */
export function reachableUrl(address: string): string {
  const url = new URL(address);
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  return url.origin;
}

/** Records the running service's address; returns the function that removes it. */
export function recordServiceAddress(dataDir: string, address: string): () => void {
  const file = serviceFile(dataDir);
  writeFileSync(file, `${JSON.stringify({ pid: process.pid, url: reachableUrl(address) })}\n`);
  return () => {
    try {
      const recorded = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown };
      if (recorded.pid === process.pid) rmSync(file, { force: true });
    } catch {
      // Already gone.
    }
  };
}

export interface DataDirHolder {
  pid: number;
  /** The service's address when the holder is a `taskwire serve` that recorded it. */
  url: string | null;
}

/** The live process holding DATA_DIR's embedded database, if any, and where it serves. */
export function dataDirHolder(dataDir: string): DataDirHolder | null {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lockFile(dataDir), 'utf8').trim(), 10);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid === process.pid || !mayHoldLock(pid)) return null;
  try {
    const recorded = JSON.parse(readFileSync(serviceFile(dataDir), 'utf8')) as {
      pid?: unknown;
      url?: unknown;
    };
    if (recorded.pid === pid && typeof recorded.url === 'string') return { pid, url: recorded.url };
  } catch {
    // No service recorded: another command (migrate, send) holds it.
  }
  return { pid, url: null };
}
