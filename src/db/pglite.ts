import { cpSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable } from './executor.js';

export interface PgliteOptions {
  /** Folder of the database cluster; `null` keeps it in memory (tests). */
  dataDir: string | null;
  /**
   * A freshly initialised cluster to copy when `dataDir` is empty. initdb costs seconds
   * in WebAssembly; copying a template costs milliseconds.
   */
  templateDir?: string;
}

/** Embedded Postgres (PGlite, WebAssembly) in one folder, owned by this process alone. */
export async function openPglite(options: PgliteOptions): Promise<Database> {
  const { dataDir, templateDir } = options;
  if (dataDir && templateDir && !existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (existsSync(path.join(templateDir, 'PG_VERSION'))) {
      mkdirSync(path.dirname(dataDir), { recursive: true });
      cpSync(templateDir, dataDir, { recursive: true });
    }
  }
  const pg = await PGlite.create(dataDir ?? undefined);
  return wrapPglite(pg);
}

function wrapPglite(pg: PGlite): Database {
  const query = async <Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> => {
    const result = await pg.query<Row>(sql, params as unknown[] | undefined);
    return result.rows;
  };
  return {
    engine: 'pglite',
    maxConcurrency: 1,
    query,
    async transaction(work) {
      return pg.transaction(async (tx) => {
        // A failed statement aborts the transaction; one whose work caught the error and
        // went on must not be reported committed (PGlite's COMMIT would roll it back
        // quietly), least of all for a shared batch's other works.
        // (Nothing here uses savepoints; one that did would roll back to it instead.)
        let failed: unknown = null;
        const noting = async <T>(statement: Promise<T>): Promise<T> => {
          try {
            return await statement;
          } catch (error) {
            failed ??= error;
            throw error;
          }
        };
        const scoped: Queryable = {
          async query<Row>(sql: string, params?: readonly unknown[]) {
            return (await noting(tx.query<Row>(sql, params as unknown[] | undefined))).rows;
          },
          async exec(sql: string) {
            await noting(tx.exec(sql));
          },
        };
        const result = await work(scoped);
        if (failed !== null) {
          throw new Error('the transaction was rolled back: a statement in it failed', {
            cause: failed,
          });
        }
        return result;
      });
    },
    async exec(sql) {
      await pg.exec(sql);
    },
    async listen(channel, onNotify) {
      const unlisten = await pg.listen(channel, () => onNotify());
      return async () => {
        if (!pg.closed) await unlisten();
      };
    },
    async close() {
      await pg.close();
    },
  };
}
