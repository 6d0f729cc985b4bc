/**
 * The one database port: run a statement, or run several in a transaction. Implemented
 * for embedded PGlite (pglite.ts) and for node-postgres (postgres.ts); every query module
 * and migration is written against this interface, so both engines run the same SQL.
 */
export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly engine: 'pglite' | 'postgres';
  /** Runs `work` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * How many statements may usefully run at once: the pool size for Postgres,
   * 1 for PGlite (one connection per process).
   */
  readonly maxConcurrency: number;
  /**
   * Calls `onNotify` for every NOTIFY on `channel` (from any process sharing the
   * database). Resolves to a function that stops listening.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
