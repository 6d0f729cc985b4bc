import pg from 'pg';
import { queryBeginningTransaction } from './begin-with-first-statement.js';
import { connectFailure } from './connection-errors.js';
import type { Database, Queryable } from './executor.js';
import { statementNames } from './prepared-statements.js';
import { retryWhileUnreachable } from './startup-retry.js';

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
  /**
   * How long opening keeps retrying a server that is not reachable yet (refused, starting
   * up, shutting down) before it gives up; 0 tries once. Default 0.
   */
  startupRetryMs?: number;
  /** Told about each failed start-up attempt that will be retried. */
  onStartupRetry?: (error: unknown, waitedMs: number) => void;
}

// How long one connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT_MS = 10_000;
// Detects a server that vanished without closing the connection (a failover, a dropped
// NAT entry): without keepalives a query on such a connection would wait for minutes.
const KEEPALIVE_DELAY_MS = 10_000;

/**
 * A node-postgres pool: the engine for production, Supabase and scale-out. A connection
 * the server terminates never crashes the process: its statement fails (with an error
 * isConnectionError recognises), the connection is discarded, and the next statement gets
 * a new one, so the pool recovers by itself as soon as the server is back.
 */
export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize,
    types,
    application_name: options.applicationName ?? 'taskwire',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
  });
  // An idle client that loses its connection emits 'error' on the pool; without a
  // listener that would crash the process. The next query simply gets a new client.
  pool.on('error', () => {});
  // Fail at start-up, with one clear line, rather than on the first webhook.
  await connectWithRetry(pool, options);

  // Each statement is parsed and planned once per connection (src/db/prepared-statements.ts).
  const names = statementNames();
  const run = async <Row>(
    target: pg.Pool | pg.PoolClient,
    sql: string,
    params: readonly unknown[] | undefined,
  ): Promise<Row[]> => {
    try {
      return (await target.query(names.config(sql, params))).rows as Row[];
    } catch (error) {
      names.failed(error);
      throw error;
    }
  };
  const query = <Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> =>
    run<Row>(pool, sql, params);
  return {
    engine: 'postgres',
    maxConcurrency: options.poolSize,
    query,
    async transaction(work) {
      const { client, failure, giveBack } = await checkOut(pool);
      // BEGIN goes out with the first statement, in its round trip, where it can
      // (queryBeginningTransaction); a transaction that runs no statement sends neither
      // BEGIN nor COMMIT.
      let begun = false;
      const scoped: Queryable = {
        async query<Row>(sql: string, params?: readonly unknown[]) {
          if (begun) return run<Row>(client, sql, params);
          begun = true;
          const config = names.config(sql, params);
          const together = queryBeginningTransaction(client, config);
          if (!together) {
            await client.query('BEGIN');
            return run<Row>(client, sql, params);
          }
          try {
            return (await together).rows as Row[];
          } catch (error) {
            names.failed(error);
            throw error;
          }
        },
        async exec(sql: string) {
          if (!begun) {
            begun = true;
            await client.query('BEGIN');
          }
          await client.query(sql);
        },
      };
      try {
        const result = await work(scoped);
        if (!begun) {
          giveBack(failure());
          return result;
        }
        // COMMIT of a transaction a failed statement aborted (a work that caught the error
        // and went on) rolls back without an error: its command tag says so. Never report
        // such a transaction as committed, least of all for a shared batch's other works.
        const committed = await client.query('COMMIT');
        if (committed.command === 'ROLLBACK') {
          throw new Error('the transaction was rolled back at COMMIT: a statement in it failed');
        }
        giveBack(failure());
        return result;
      } catch (error) {
        let broken = failure();
        if (!broken && begun) {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackError) {
            // A connection that cannot roll back is broken: destroy it, not reuse it.
            broken = rollbackError as Error;
          }
        }
        giveBack(broken ?? failure());
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

/** A client checked out of the pool for a transaction; see checkOut. */
interface CheckedOut {
  client: pg.PoolClient;
  /** The error that broke its connection while checked out, if any. */
  failure(): Error | null;
  /** Back to the pool, or destroyed when `broken`. */
  giveBack(broken: Error | null): void;
}

/**
 * pg-pool listens for a client's 'error' only while it is idle. A checked-out client whose
 * connection the server terminates (a restart, a failover, pg_terminate_backend) emits
 * 'error', and an 'error' event nobody listens to kills the process. The listener is
 * attached inside pg-pool's callback, synchronously: attached after an `await`, it would
 * come too late when the server's termination notice arrives in the same network read as
 * the answer that freed the client for us. The statement in flight rejects with the same
 * error anyway; the error is kept so the broken client is destroyed, not reused.
 */
function checkOut(pool: pg.Pool): Promise<CheckedOut> {
  return new Promise((resolve, reject) => {
    pool.connect((error, client) => {
      if (error || !client) {
        reject(error ?? new Error('the pool handed out no client'));
        return;
      }
      let lost: Error | null = null;
      const onError = (cause: Error) => {
        lost = cause;
      };
      client.on('error', onError);
      resolve({
        client,
        failure: () => lost,
        giveBack(broken) {
          client.off('error', onError);
          client.release(broken ?? undefined);
        },
      });
    });
  });
}

/**
 * Connects once to check the server is there. Errors that waiting may fix (refused,
 * reset, the server starting up or shutting down) are retried with back-off for
 * `startupRetryMs`; then, or at once for any other error (unknown database, wrong
 * password), a DatabaseConnectError says in one line what failed and what to check.
 */
async function connectWithRetry(pool: pg.Pool, options: PostgresOptions): Promise<void> {
  const started = Date.now();
  try {
    await retryWhileUnreachable(async () => (await checkOut(pool)).giveBack(null), {
      budgetMs: options.startupRetryMs ?? 0,
      onRetry: options.onStartupRetry,
    });
  } catch (error) {
    await pool.end().catch(() => {});
    throw connectFailure(options.connectionString, error, Date.now() - started);
  }
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

// Reconnecting LISTEN waits this long after the first failure, doubling up to the maximum.
const LISTEN_RETRY_FIRST_MS = 250;
const LISTEN_RETRY_MAX_MS = 10_000;

/**
 * LISTEN needs a connection of its own, outside the pool. If it drops, reconnect with
 * exponential back-off and call `onNotify` once connected again: notifications may have
 * been missed meanwhile, and a spurious wake-up only costs one empty poll. At most one
 * reconnection is under way at a time.
 */
async function listenWithReconnect(
  options: PostgresOptions,
  channel: string,
  onNotify: () => void,
): Promise<() => Promise<void>> {
  let client: pg.Client | null = null;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | null = null;
  let failures = 0;

  const reconnectLater = (): void => {
    if (stopped || retryTimer) return;
    const delayMs = Math.min(LISTEN_RETRY_FIRST_MS * 2 ** failures, LISTEN_RETRY_MAX_MS);
    failures += 1;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      connect().then(() => {
        failures = 0;
        onNotify();
      }, reconnectLater);
    }, delayMs);
  };

  const connect = async (): Promise<void> => {
    const next = new pg.Client({
      connectionString: options.connectionString,
      application_name: `${options.applicationName ?? 'taskwire'}-listen`,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    });
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify();
    });
    // Also keeps an 'error' from killing the process. Only the live client's loss
    // reconnects: one still connecting reports its failure through connect()'s rejection.
    next.on('error', () => {
      next.end().catch(() => {});
      if (client !== next) return;
      client = null;
      reconnectLater();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${quoteIdentifier(channel)}`);
    } catch (error) {
      next.end().catch(() => {});
      throw error;
    }
    if (stopped) {
      await next.end().catch(() => {});
      return;
    }
    client = next;
  };

  // The first connection is retried like opening the pool (startupRetryMs): the database
  // may be away for a moment just as a worker starts. Later losses reconnect on their own.
  const started = Date.now();
  try {
    await retryWhileUnreachable(connect, {
      budgetMs: options.startupRetryMs ?? 0,
      onRetry: options.onStartupRetry,
    });
  } catch (error) {
    throw connectFailure(options.connectionString, error, Date.now() - started);
  }
  return async () => {
    stopped = true;
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    const current = client;
    client = null;
    await current?.end().catch(() => {});
  };
}
