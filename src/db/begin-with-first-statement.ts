import pg from 'pg';

/**
 * The parts of node-postgres's Query (pg/lib/query.js) this builds on, which its types do
 * not declare: `prepare` writes a statement's extended-protocol messages (Parse if the
 * connection has not parsed it, Bind, Describe, Execute, Sync), corked into one write by
 * `submit`; `handleCommandComplete` takes each CommandComplete the server answers.
 */
interface QueryInternals {
  prepare(connection: ProtocolWriter): void;
  handleCommandComplete(message: unknown, connection: ProtocolWriter): void;
  handleError(error: unknown, connection: ProtocolWriter): void;
}

interface ProtocolWriter {
  /** Statement names the connection has parsed, to their text (the client's own record). */
  parsedStatements: Record<string, string | undefined>;
  parse(query: { text: string; name?: string; types?: unknown[] }): void;
  bind(config: { portal?: string; statement?: string; values?: unknown[] }): void;
  execute(config: { portal?: string; rows?: number }): void;
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
 * Execute) with no Sync of its own, then the statement's messages and their one Sync. The
 * server runs them in order, so the statement runs inside the transaction; it answers one
 * ReadyForQuery, and the Query handles the answer as the statement's own once BEGIN's
 * CommandComplete is set aside. Should BEGIN fail, the statement is skipped (the server
 * discards up to the Sync) and the error is the query's.
 *
 * Every statement costs a round trip, and on the 2-core machine of BENCHMARKS.md one
 * costs ~120–180 µs of the client's CPU (and about as much of Postgres's), most of it the
 * socket write: a transaction's BEGIN was one statement of ~10 per message.
 */
export function queryBeginningTransaction(
  client: pg.ClientBase,
  config: pg.QueryConfig,
): Promise<pg.QueryResult> {
  let answer: Answer = () => {};
  const answered = new Promise<pg.QueryResult>((resolve, reject) => {
    answer = (error, result) => (error ? reject(error) : resolve(result));
  });
  // `extended`: even a statement without parameters goes as Parse/Bind/Execute, which
  // is what lets BEGIN share its Sync.
  const query = new Query(
    { ...config, queryMode: 'extended' } as pg.QueryConfig,
    undefined,
    (e, r) => answer(e, r),
  );
  const prepare = query.prepare.bind(query);
  const handleCommandComplete = query.handleCommandComplete.bind(query);
  const handleError = query.handleError.bind(query);
  const name = config.name;
  let beginAnswered = false;
  let parsedBefore = true;
  query.prepare = (connection) => {
    parsedBefore = name === undefined || connection.parsedStatements[name] !== undefined;
    connection.parse({ text: 'BEGIN' });
    connection.bind({});
    connection.execute({});
    prepare(connection);
  };
  // The client records a statement as parsed at any ParseComplete of its query, BEGIN's
  // too: if the statement's own Parse then failed, that record must go, or the next use
  // would skip the Parse of a statement the server does not have.
  query.handleError = (error, connection) => {
    if (!parsedBefore && name !== undefined) delete connection.parsedStatements[name];
    handleError(error, connection);
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
