import { type FeedItemRow, listFeed as listFeedPosts } from '../db/feed.js';
import type { Page, UseCaseDeps } from './deps.js';

export type { FeedItemRow } from '../db/feed.js';

/**
 * The proofs of completed tasks, newest first, optionally of one user or one group. Each post keeps its
 * photo's object key; the URL a browser loads is made by whoever answers (it depends on
 * where the answer is read, see src/http/storage-urls.ts).
 */
export function listFeed(
  deps: Pick<UseCaseDeps, 'db'>,
  query: { limit: number; offset: number; userId?: number | null; groupId?: number | null },
): Promise<Page<FeedItemRow>> {
  return listFeedPosts(deps.db, {
    ...query,
    userId: query.userId ?? null,
    groupId: query.groupId ?? null,
  });
}
