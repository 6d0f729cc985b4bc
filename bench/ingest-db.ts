// Databases for the ingest benchmark: one fresh Postgres database per contender (created
// and dropped here), the project's own migration for the reference servers, and reading
// back what each contender stored.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { onCleanup } from './ingest-processes.js';

export const adminUrl =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'taskwire-bench' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  name: string;
  url: string;
  /** Drops the database (idempotent). */
  drop(): Promise<void>;
}

/** A fresh, empty database with a random name; dropped by `drop()` or the bench's cleanup. */
export async function createDatabase(label: string): Promise<BenchDatabase> {
  const name = `taskwire_bench_${label}_${randomBytes(4).toString('hex')}`;
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const drop = onCleanup(`drop database ${name}`, () =>
    withClient(adminUrl, (client) =>
      client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    ).then(() => undefined),
  );
  return { name, url: url.toString(), drop };
}

/** Applies the project's first migration, so reference servers write the same table. */
export async function applyInitialMigration(url: string, repoRoot: string): Promise<void> {
  const sql = readFileSync(path.join(repoRoot, 'src/db/migrations/0001_initial.sql'), 'utf8');
  await withClient(url, (client) => client.query(sql));
}

/** Flushes dirty buffers so a checkpoint from one contender does not land in the next one. */
export async function checkpoint(): Promise<void> {
  await withClient(adminUrl, (client) => client.query('CHECKPOINT')).catch(() => undefined);
}

export interface StoredMessages {
  rows: number;
  distinctSids: number;
  sids: Set<string>;
  /** Rows the workers had processed by shutdown (always 0 for the references). */
  processed: number;
}

const storedSql = 'SELECT message_sid, processed FROM messages';
const summarizeRows = (rows: { message_sid: string; processed: boolean }[]): StoredMessages => {
  const sids = new Set(rows.map((row) => row.message_sid));
  const processed = rows.filter((row) => row.processed).length;
  return { rows: rows.length, distinctSids: sids.size, sids, processed };
};

/** Every MessageSid in the `messages` table of a Postgres database. */
export async function readStoredPostgres(url: string): Promise<StoredMessages> {
  return withClient(url, async (client) => {
    const result = await client.query<{ message_sid: string; processed: boolean }>(storedSql);
    return summarizeRows(result.rows);
  });
}

/** How many rows of a Postgres `messages` table are processed, of how many. */
export async function countProcessedPostgres(
  url: string,
): Promise<{ processed: number; rows: number }> {
  return withClient(url, async (client) => {
    const result = await client.query<{ processed: number; rows: number }>(
      'SELECT count(*) FILTER (WHERE processed)::int AS processed, count(*)::int AS rows FROM messages',
    );
    return result.rows[0] ?? { processed: 0, rows: 0 };
  });
}

/**
 * Every MessageSid in the `messages` table of a PGlite folder. Only once the service that
 * owned the folder has exited: this also proves what it acknowledged survived its shutdown.
 */
export async function readStoredPglite(dataDir: string): Promise<StoredMessages> {
  const db = await PGlite.create(dataDir);
  try {
    const result = await db.query<{ message_sid: string; processed: boolean }>(storedSql);
    return summarizeRows(result.rows);
  } finally {
    await db.close();
  }
}

export async function postgresVersion(): Promise<string> {
  return withClient(adminUrl, async (client) => {
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    const settings = await client.query<{ name: string; setting: string }>(
      `SELECT name, current_setting(name) AS setting FROM pg_settings
       WHERE name IN ('synchronous_commit', 'fsync', 'shared_buffers', 'max_connections')`,
    );
    const extra = settings.rows.map((row) => `${row.name}=${row.setting}`).join(', ');
    return `PostgreSQL ${result.rows[0]?.server_version ?? '?'} (${extra})`;
  });
}
