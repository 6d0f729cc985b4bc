import type { Config } from '../config/config.js';
import { migrate } from '../db/migrate.js';
import { openDatabase } from './database.js';

/** `taskwire migrate`: applies pending migrations, says what it did, exits. */
export async function runMigrations(config: Config): Promise<number> {
  const opened = await openDatabase(config);
  try {
    const applied = await migrate(opened.db);
    console.error(
      applied.length > 0
        ? `Applied ${applied.length} migration(s) to ${opened.description}: ${applied.join(', ')}`
        : `${opened.description} is up to date.`,
    );
    return 0;
  } finally {
    await opened.release();
  }
}
