/**
 * Which database errors are about the values a statement carried rather than about the
 * database: Postgres refused a value it cannot store or compare. Such an error is the
 * request's fault, so it is answered 4xx (never 500), and the group commit tries the
 * webhooks of a refused INSERT again one by one, so only the offending one fails.
 */

// SQLSTATE classes (the first two characters):
// 22 data exception: 22021 a NUL in text, 22P05 a NUL in jsonb, 22003 a number out of
//    range (`99999999999999999999` for an integer), 22P02 `1e+300` for a bigint;
// 23 integrity constraint violation: a CHECK, NOT NULL or foreign key the row breaks;
// 54 program limit exceeded: a value too large for an index.
const ROW_CLASSES = new Set(['22', '23', '54']);

/** The five-character SQLSTATE of a Postgres error (node-postgres and PGlite alike), or null. */
export function sqlState(error: unknown): string | null {
  if (typeof error !== 'object' || error === null) return null;
  const { code } = error as { code?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

/** True when Postgres refused a value the statement carried (see ROW_CLASSES). */
export function isDataError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== null && ROW_CLASSES.has(state.slice(0, 2));
}
