// The databases of `npm run bench:loop`: the users and their active tasks made before the
// clock (and, with --earlier-posts, that many earlier feed posts with proof fingerprints,
// for the proof check to scan), the CPU of the run's own Postgres backends, and pgbench's
// single-row INSERT rate as the machine's reference.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { cpuMsOf, runCommand } from './ingest-processes.js';
import { adminUrl, createDatabase } from './ingest-db.js';

/** Anything that runs SQL: a pg.Client or a PGlite. */
interface Sql {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/**
 * Users 1..users (phone `+1555` + 7 digits, as loop-plan.ts's phoneOf), one active task
 * each, due tomorrow (no reminder is due during the run: tasks made in SQL have no
 * reminder stages at all); then `earlierPosts` feed posts of one earlier member, each with
 * a random SHA-256 and difference hash as a real proof would have, in one statement.
 */
async function seed(db: Sql, users: number, earlierPosts: number): Promise<void> {
  await db.query(
    `INSERT INTO users (username, phone_number)
     SELECT 'Member ' || n, '+1555' || lpad(n::text, 7, '0') FROM generate_series(1, $1::int) AS n`,
    [users],
  );
  await db.query(
    `INSERT INTO tasks (user_id, description, due_time, points)
     SELECT id, 'Send today''s proof', now() + interval '1 day', 10 FROM users`,
  );
  if (earlierPosts > 0) {
    await db.query(`INSERT INTO users (username) VALUES ('Earlier member')`);
    await db.query(
      `INSERT INTO feed (user_id, image_key, proof_sha256, proof_dhash, created_at)
       SELECT (SELECT max(id) FROM users), 'messages/MMearlier' || n || '/0.jpg',
              encode(sha256(('earlier ' || n || ' ' || random())::bytea), 'hex'),
              ('x' || substr(md5(n || ' ' || random()), 1, 16))::bit(64)::bigint,
              now() - interval '1 day'
       FROM generate_series(1, $1::int) AS n`,
      [earlierPosts],
    );
  }
  await db.query('ANALYZE');
}

export async function seedPostgres(url: string, users: number, earlierPosts: number) {
  const client = new pg.Client({ connectionString: url, application_name: 'taskwire-bench' });
  await client.connect();
  try {
    await seed(client, users, earlierPosts);
  } finally {
    await client.end();
  }
}

/** The embedded database of a DATA_DIR, while no service has it open. */
export async function seedPglite(dataDir: string, users: number, earlierPosts: number) {
  const db = await PGlite.create(path.join(dataDir, 'pglite'));
  try {
    await seed(db, users, earlierPosts);
  } finally {
    await db.close();
  }
}

/**
 * Where a step's time went, from the database's own clock, for its text messages and its
 * photos apart: stored → processing (the queue: waiting for a claim, for photos the media
 * download too; processed_at is the processing transaction's start) and processing → sent
 * (committing, the outbound queue and Twilio's answer: sent_at is when the send was
 * recorded).
 */
export interface StageTimes {
  photo: boolean;
  count: number;
  queuedP50: number;
  queuedP99: number;
  sendingP50: number;
  sendingP99: number;
}

/** What the database recorded: replies per inbound message (outbound_messages of kind reply). */
export interface RecordedReplies {
  inbound: number;
  processed: number;
  replies: number;
  maxRepliesPerMessage: number;
  /** Per step, in the order given (see StageTimes). */
  stages: StageTimes[][];
  /**
   * Jobs that took more than one attempt, or replies never sent, grouped by queue, state
   * and error: why a reply came late or not at all (a failed attempt waits for its
   * back-off, WORKER_BACKOFF_MS).
   */
  retried: { queue: string; status: string; attempts: number; error: string; n: number }[];
}

const recordedSql = `SELECT
    (SELECT count(*)::int FROM messages) AS inbound,
    (SELECT count(*)::int FROM messages WHERE processed) AS processed,
    (SELECT count(*)::int FROM outbound_messages WHERE kind = 'reply') AS replies,
    (SELECT coalesce(max(c), 0)::int FROM (SELECT count(*) AS c FROM outbound_messages
       WHERE kind = 'reply' GROUP BY inbound_message_id) AS per) AS "maxRepliesPerMessage"`;

const retriedSql = `SELECT 'inbound' AS queue, processing_status AS status, attempts,
         left(coalesce(error, ''), 160) AS error, count(*)::int AS n
    FROM messages WHERE attempts > 1 OR NOT processed GROUP BY 1, 2, 3, 4
  UNION ALL
  SELECT 'outbound', status, attempts, left(coalesce(error_message, ''), 160), count(*)::int
    FROM outbound_messages WHERE kind = 'reply' AND (attempts > 1 OR sent_at IS NULL)
    GROUP BY 1, 2, 3, 4
  ORDER BY 1, 5 DESC`;

const ms = (quantile: number, from: string, to: string) =>
  `(1000 * extract(epoch FROM percentile_cont(${quantile}) WITHIN GROUP (ORDER BY ${to} - ${from})))::float8`;

const stagesSql = `SELECT m.num_media > 0 AS photo, count(*)::int AS count,
    ${ms(0.5, 'm.created_at', 'm.processed_at')} AS "queuedP50",
    ${ms(0.99, 'm.created_at', 'm.processed_at')} AS "queuedP99",
    ${ms(0.5, 'm.processed_at', 'o.sent_at')} AS "sendingP50",
    ${ms(0.99, 'm.processed_at', 'o.sent_at')} AS "sendingP99"
  FROM messages m JOIN outbound_messages o ON o.inbound_message_id = m.id AND o.kind = 'reply'
  WHERE m.message_sid = ANY($1::text[]) AND o.sent_at IS NOT NULL
  GROUP BY 1 ORDER BY 1`;

interface Rows {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

async function recordedReplies(db: Rows, stepSids: string[][]): Promise<RecordedReplies> {
  const counts = (await db.query<Omit<RecordedReplies, 'stages' | 'retried'>>(recordedSql)).rows[0];
  const retried = (await db.query<RecordedReplies['retried'][number]>(retriedSql)).rows;
  const stages: StageTimes[][] = [];
  try {
    for (const sids of stepSids) stages.push((await db.query<StageTimes>(stagesSql, [sids])).rows);
  } catch (error) {
    // The breakdown is extra: the counts above still check exactly-once.
    console.error(`  where the time goes: not read (${String(error)})`);
  }
  return { ...(counts as Omit<RecordedReplies, 'stages' | 'retried'>), stages, retried };
}

export async function recordedRepliesPostgres(
  url: string,
  stepSids: string[][],
): Promise<RecordedReplies> {
  const client = new pg.Client({ connectionString: url, application_name: 'taskwire-bench' });
  await client.connect();
  try {
    return await recordedReplies(client, stepSids);
  } finally {
    await client.end();
  }
}

export async function recordedRepliesPglite(
  dataDir: string,
  stepSids: string[][],
): Promise<RecordedReplies> {
  const db = await PGlite.create(path.join(dataDir, 'pglite'));
  try {
    return await recordedReplies(db, stepSids);
  } finally {
    await db.close();
  }
}

// ---- CPU of the run's Postgres backends ----------------------------------------------

/** CPU ms so far of one process (user + system, all its threads); 0 once it is gone. */
export const processCpuMs = (pid: number) => cpuMsOf(pid) ?? 0;

/**
 * The backends connected to one database (the service's pool): pid → CPU ms so far. The
 * shared server's other databases, and its background processes, are not counted.
 */
export class BackendCpu {
  private readonly client: pg.Client;
  private constructor(private readonly database: string) {
    this.client = new pg.Client({ connectionString: adminUrl, application_name: 'taskwire-bench' });
  }

  static async open(database: string): Promise<BackendCpu> {
    const meter = new BackendCpu(database);
    await meter.client.connect();
    return meter;
  }

  async sample(): Promise<Map<number, number>> {
    const result = await this.client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1',
      [this.database],
    );
    const sample = new Map<number, number>();
    for (const { pid } of result.rows) {
      const ms = cpuMsOf(pid);
      if (ms !== null) sample.set(pid, ms);
    }
    return sample;
  }

  /** CPU ms the backends used between two samples (a backend born since counts whole). */
  static between(start: Map<number, number>, end: Map<number, number>): number {
    let total = 0;
    for (const [pid, ms] of end) total += ms - (start.get(pid) ?? 0);
    return total;
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

// ---- pgbench ---------------------------------------------------------------------------

/**
 * pgbench's single-row INSERT rate on this Postgres, now: `pgbench -i` a scratch database,
 * then 10 clients (Taskwire's pool size) inserting one row per transaction into
 * pgbench_history for `seconds`. The machine's reference for what one commit costs.
 */
export async function pgbenchInsertTps(seconds: number, scratchDir: string): Promise<number> {
  const db = await createDatabase('pgbench');
  try {
    const url = db.url;
    await runCommand('pgbench', ['-i', '-q', '-s', '1', url], {
      cwd: scratchDir,
      timeoutMs: 120_000,
    });
    const script = path.join(scratchDir, 'insert.sql');
    writeFileSync(
      script,
      'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 1, CURRENT_TIMESTAMP);\n',
    );
    const output = await captureCommand('pgbench', [
      '-n',
      '-c',
      '10',
      '-j',
      '2',
      '-T',
      String(seconds),
      '-f',
      script,
      url,
    ]);
    const match = /tps = ([\d.]+)/.exec(output);
    if (!match) throw new Error(`pgbench printed no tps:\n${output}`);
    return Number(match[1]);
  } finally {
    await db.drop();
  }
}

async function captureCommand(command: string, args: string[]): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} failed: ${error.message}\n${stderr}`));
      else resolve(`${stdout}\n${stderr}`);
    });
  });
}
