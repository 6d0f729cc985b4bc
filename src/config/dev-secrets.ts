import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { DevSecrets } from './config.js';

const OWNER_ONLY = 0o600;

/**
 * Development only: secrets that were not configured are generated once and kept in
 * DATA_DIR/secrets.json (mode 0600), so a new user can sign a test webhook and call the
 * API at once, and the values survive restarts.
 */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const file = devSecretsFile(dataDir);
  const stored = readDevSecrets(dataDir);
  if (stored) {
    // A file copied in, restored from a backup or written by an older version may be
    // readable by others: the API token in it is a real credential.
    restrictMode(file);
    return stored;
  }
  const secrets: DevSecrets = {
    apiToken: randomBytes(24).toString('hex'),
    twilioAuthToken: randomBytes(16).toString('hex'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeOwnerOnly(file, `${JSON.stringify(secrets, null, 2)}\n`);
  return secrets;
}

export const devSecretsFile = (dataDir: string): string => path.join(dataDir, 'secrets.json');

/** The development secrets kept in DATA_DIR, or null when there are none yet (nothing is written). */
export function readDevSecrets(dataDir: string): DevSecrets | null {
  try {
    const stored = JSON.parse(readFileSync(devSecretsFile(dataDir), 'utf8')) as Partial<DevSecrets>;
    return stored.apiToken && stored.twilioAuthToken ? (stored as DevSecrets) : null;
  } catch {
    // Missing or unreadable.
    return null;
  }
}

/**
 * Writes `content` so that `file` is 0600 whether or not it existed: writeFileSync's
 * `mode` applies only to a file it creates, and rewriting a garbled secrets.json that was
 * 0644 would keep 0644. A fresh temporary file (0600, then chmod against the umask)
 * renamed over the old one also means a crash never leaves a half-written file.
 */
function writeOwnerOnly(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, content, { mode: OWNER_ONLY, flag: 'wx' });
    chmodSync(temporary, OWNER_ONLY);
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

function restrictMode(file: string): void {
  if (process.platform === 'win32') return;
  try {
    if ((statSync(file).mode & 0o777) !== OWNER_ONLY) chmodSync(file, OWNER_ONLY);
  } catch {
    // Not ours to change (another owner, a read-only mount): the secrets still work.
  }
}
