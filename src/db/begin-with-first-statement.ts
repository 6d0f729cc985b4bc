import pg from 'pg';

/**
 * The parts of node-postgres this builds on, which its types do not declare: a Query's
 * `prepare` writes a statement's extended-protocol messages (Parse if the connection has
 * not parsed it, Bind, Describe, Execute, Sync), corked into one write by `submit`;
 * `handleCommandComplete` takes each CommandComplete the server answers; a client's
 * `connection.parsedStatements` records the statement names its connection has parsed.
 */
interface QueryInternals {
  prepare(connection: ProtocolWriter): void;
  handleCommandComplete(message: unknown, connection: ProtocolWriter): void;
}

interface ProtocolWriter {
  parse(query: { text: string; name?: string }): void;
  bind(config: { portal?: string; statement?: string; values?: unknown[] }): void;
  execute(config: { portal?: string; rows?: number }): void;
}

interface ClientInternals {
  connection?: { parsedStatements?: Record<string, string | undefined> };
}

type Answer = (error: Error | undefined, result: pg.QueryResult) => void;
const Query = pg.Query as unknown as new (
  config: pg.QueryConfig,
  values: undefined,
  callback: Answer,
) => pg.Query & QueryInternals;

/**
 * A transaction's first statement with its BEGIN in front, in one write and one round trip
 * where they were two: BEGIN as an unnamed extended-protocol statement (Parse, Bind,
 * Execute) with no Sync of its own, then the statement's Bind, Describe, Execute and their
 * one Sync. The server runs them in order, so the statement runs inside the transaction;
 * it answers one ReadyForQuery, and the Query handles the answer as the statement's own
 * once BEGIN's CommandComplete is set aside. Should BEGIN fail, the statement is skipped
 * (the server discards up to the Sync) and the error is the query's.
 *
 * Null, and the caller sends BEGIN on its own, unless the statement has parameters (one
 * without may hold several commands, which the extended protocol refuses) and, if named,
 * is already parsed on this connection. The client records a named statement as parsed at
 * any ParseComplete of its query, BEGIN's too: were the statement's own Parse in the same
 * batch, that record could not tell whether the statement's Parse then succeeded. The
 * first use of a statement on a connection therefore pays one round trip more, once.
 *
 * Every statement costs a round trip, and on the 2-core machine of BENCHMARKS.md one
 * costs ~120–180 µs of the client's CPU (and about as much of Postgres's), most of it the
 * socket write (npm run bench:transactions).
 */
export function queryBeginningTransaction(
  client: pg.ClientBase,
  config: pg.QueryConfig,
): Promise<pg.QueryResult> | null {
  if (config.values === undefined) return null;
  if (config.name !== undefined) {
    const parsed = (client as unknown as ClientInternals).connection?.parsedStatements;
    if (parsed?.[config.name] !== config.text) return null;
  }
  let answer: Answer = () => {};
  const answered = new Promise<pg.QueryResult>((resolve, reject) => {
    answer = (error, result) => (error ? reject(error) : resolve(result));
  });
  // `extended`: an unnamed statement with an empty parameter list would otherwise go as a
  // simple query, without the `prepare` that puts BEGIN in front.
  const query = new Query(
    { ...config, queryMode: 'extended' } as pg.QueryConfig,
    undefined,
    (e, r) => answer(e, r),
  );
  const prepare = query.prepare.bind(query);
  const handleCommandComplete = query.handleCommandComplete.bind(query);
  let beginAnswered = false;
  query.prepare = (connection) => {
    connection.parse({ text: 'BEGIN' });
    connection.bind({});
    connection.execute({});
    prepare(connection);
  };
  query.handleCommandComplete = (message, connection) => {
    if (!beginAnswered) {
      beginAnswered = true;
      return;
    }
    handleCommandComplete(message, connection);
  };
  void client.query(query);
  return answered;
}
