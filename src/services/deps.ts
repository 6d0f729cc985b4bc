import type { Queryable } from '../db/executor.js';
import type { BlobStore } from '../storage/adapter.js';

/**
 * What the admin use cases (users.ts, tasks.ts, messages.ts, feed.ts, outbound.ts) run
 * against. Each takes only the part it needs (`Pick<UseCaseDeps, 'db'>`), so the HTTP
 * routes, the CLI and the library build the same calls from whatever they hold.
 */
export interface UseCaseDeps {
  db: Queryable;
  /** The bucket the photos are kept in. */
  store: BlobStore;
  /** The current time (tests inject one). */
  clock: () => Date;
}

/** One page of a list, as every list use case returns it. */
export interface Page<Item> {
  items: Item[];
  total: number;
}
