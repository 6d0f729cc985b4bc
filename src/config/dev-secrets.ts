import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DevSecrets } from './config.js';

/**
 * Development only: secrets that were not configured are generated once and kept in
 * DATA_DIR/secrets.json (mode 0600), so a new user can sign a test webhook and call the
 * API at once, and the values survive restarts.
 */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const file = path.join(dataDir, 'secrets.json');
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    if (stored.apiToken && stored.twilioAuthToken) return stored as DevSecrets;
  } catch {
    // Missing or unreadable: generate below.
  }
  const secrets: DevSecrets = {
    apiToken: randomBytes(24).toString('hex'),
    twilioAuthToken: randomBytes(16).toString('hex'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}
