import type { Database } from '../db/executor.js';
import { createGroupCommitter } from '../db/group-commit.js';
import { insertMessages } from '../db/messages.js';
import type { InboundMessage } from '../domain/message.js';
import type { InboundMessageStore } from '../services/receive-inbound.js';

export interface BatchedInboundStore extends InboundMessageStore {
  drain(): Promise<void>;
}

/**
 * Stores webhooks through group commit: under load, concurrent webhooks share one INSERT
 * and one commit; each is acknowledged only after its own row is committed.
 */
export function createInboundStore(db: Database): BatchedInboundStore {
  // Keep a connection or two free for the workers and the admin API.
  const maxInFlight = Math.max(1, db.maxConcurrency - 2);
  const committer = createGroupCommitter<InboundMessage, { id: number | null }>({
    maxInFlight,
    maxBatch: 500,
    write: (messages) => insertMessages(db, messages),
  });
  return { store: (message) => committer.submit(message), drain: () => committer.drain() };
}
