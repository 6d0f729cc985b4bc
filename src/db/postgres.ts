import pg from 'pg';
import type { Database, Queryable } from './executor.js';

const INT8_OID = 20;

// Ids and counts are int8 in SQL. PGlite hands them over as numbers, node-postgres as
// strings; parse them to numbers here so both engines return the same rows (ids stay far
// below 2^53).
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  connectionString: string;
  poolSize: number;
  applicationName?: string;
}

/** A node-postgres pool: the engine for production, Supabase and scale-out. */
export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize,
    types,
    application_name: options.applicationName ?? 'taskwire',
    connectionTimeoutMillis: 10_000,
  });
  // An idle client that loses its connection emits 'error' on the pool; without a
  // listener that would crash the process. The next query simply gets a new client.
  pool.on('error', () => {});
  // Fail at start-up, with the driver's message, rather than on the first webhook.
  const client = await pool.connect();
  client.release();

  const query = async <Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> => {
    const result = await pool.query(sql, params as unknown[] | undefined);
    return result.rows as Row[];
  };
  return {
    engine: 'postgres',
    maxConcurrency: options.poolSize,
    query,
    async transaction(work) {
      const client = await pool.connect();
      const scoped: Queryable = {
        async query<Row>(sql: string, params?: readonly unknown[]) {
          return (await client.query(sql, params as unknown[] | undefined)).rows as Row[];
        },
        async exec(sql: string) {
          await client.query(sql);
        },
      };
      try {
        await client.query('BEGIN');
        const result = await work(scoped);
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
          client.release();
        } catch (rollbackError) {
          // A connection that cannot roll back is broken: destroy it, not reuse it.
          client.release(rollbackError as Error);
        }
        throw error;
      }
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async listen(channel, onNotify) {
      return listenWithReconnect(options, channel, onNotify);
    },
    async close() {
      await pool.end();
    },
  };
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * LISTEN needs a connection of its own, outside the pool. If it drops, reconnect with a
 * back-off and call `onNotify` once: notifications may have been missed meanwhile, and a
 * spurious wake-up only costs one empty poll.
 */
async function listenWithReconnect(
  options: PostgresOptions,
  channel: string,
  onNotify: () => void,
): Promise<() => Promise<void>> {
  let client: pg.Client | null = null;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | null = null;

  const reconnectLater = (): void => {
    if (stopped) return;
    retryTimer = setTimeout(() => {
      connect().then(onNotify, reconnectLater);
    }, 1000);
  };

  const connect = async (): Promise<void> => {
    const next = new pg.Client({
      connectionString: options.connectionString,
      application_name: `${options.applicationName ?? 'taskwire'}-listen`,
    });
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify();
    });
    next.on('error', () => {
      if (stopped) return;
      client = null;
      next.end().catch(() => {});
      reconnectLater();
    });
    await next.connect();
    await next.query(`LISTEN ${quoteIdentifier(channel)}`);
    if (stopped) {
      await next.end();
      return;
    }
    client = next;
  };

  await connect();
  return async () => {
    stopped = true;
    if (retryTimer) clearTimeout(retryTimer);
    const current = client;
    client = null;
    await current?.end().catch(() => {});
  };
}
