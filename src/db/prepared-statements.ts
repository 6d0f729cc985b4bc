import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * Named prepared statements for node-postgres. Each statement text with parameters gets a
 * name (a hash of the text), so every pooled connection parses and plans it once and then
 * only binds and executes it: in `npm run bench:loop` Postgres spent about half of its CPU
 * per message parsing and planning the same dozen statements again (5.0–5.4 → 2.5–3.1 CPU
 * ms per message, BENCHMARKS.md). Statements without parameters (the simple query
 * protocol: BEGIN, COMMIT, migration scripts with several statements) stay unnamed.
 *
 * At most MAX_NAMED texts are named, so SQL built from values (none should be) cannot
 * grow every connection's statement cache without bound. Should the server not keep them
 * — a transaction-mode pooler that hands each statement to another backend (26000, 42P05),
 * or a table changed under a statement that returns its rows (0A000, "cached plan must not
 * change result type", after a migration by a newer instance) — this process stops naming
 * statements; the statement that met the error fails once (its job retries).
 */
export interface StatementNames {
  /** The query config for `sql` with `params`: named unless naming is off or not useful. */
  config(sql: string, params: readonly unknown[] | undefined): pg.QueryConfig;
  /** Looks at a failed statement's error; turns naming off when the server refused a name. */
  failed(error: unknown): void;
  /** False once naming was turned off. */
  readonly enabled: boolean;
}

const MAX_NAMED = 1000;

/** Errors that say the server does not have (or cannot use) a statement we named. */
const refusedNamedStatement = (error: unknown): boolean => {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === '26000' || code === '42P05') return true;
  return code === '0A000' && typeof message === 'string' && /cached plan/i.test(message);
};

export function statementNames(options: { enabled?: boolean } = {}): StatementNames {
  const names = new Map<string, string>();
  let enabled = options.enabled ?? true;
  return {
    config(sql, params) {
      const values = params as unknown[] | undefined;
      if (!enabled || values === undefined) return { text: sql, values };
      let name = names.get(sql);
      if (name === undefined) {
        if (names.size >= MAX_NAMED) return { text: sql, values };
        name = `tw_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
        names.set(sql, name);
      }
      return { text: sql, values, name };
    },
    failed(error) {
      if (enabled && refusedNamedStatement(error)) enabled = false;
    },
    get enabled() {
      return enabled;
    },
  };
}
