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
        const scoped: Queryable = {
          async query<Row>(sql: string, params?: readonly unknown[]) {
            return (await tx.query<Row>(sql, params as unknown[] | undefined)).rows;
          },
          async exec(sql: string) {
            await tx.exec(sql);
          },
        };
        return work(scoped);
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
