import type { Database, Queryable } from '../db/executor.js';
import { type ClaimedMessage, markProcessed } from '../db/message-queue.js';
import { transactionBatches } from '../db/transaction-batches.js';
import { type MediaItem, type StoredMedia, mediaApiPath } from '../domain/message.js';
import { ClaimLostError, describeError, isPermanent } from '../domain/processing-errors.js';
import { type AccountabilityOptions, accountabilityReply } from '../services/accountability.js';
import type { BlobStore } from '../storage/adapter.js';
import { type TwilioMedia, mediaObjectKey } from '../twilio/media.js';
import type { ProcessJob } from './queue-worker.js';

/** The queue this job runs on: the messages table. */
export { inboundQueue } from '../db/message-queue.js';

/**
 * Copies one media item into our bucket. Throws an error with `permanent: true` when
 * trying again cannot help (refused host, too large, 4xx): that item is recorded as failed
 * and the others go on. Any other error retries the message.
 */
export type CopyMedia = (
  item: MediaItem,
  target: { messageId: number; messageSid: string; index: number },
) => Promise<Omit<StoredMedia, 'index' | 'error'>>;

/**
 * The copy production runs: from Twilio (or the simulator standing in for it) into the
 * bucket under `messages/<MessageSid>/<index>.<ext>`, recorded under the API's address
 * (mediaApiPath). One item at a time (see processInboundJob).
 */
export function copyFromTwilio(media: TwilioMedia, store: BlobStore): CopyMedia {
  return async (item, target) => {
    const stored = await media.download(
      { url: item.url, contentType: item.content_type },
      { store, key: (contentType) => mediaObjectKey(target.messageSid, target.index, contentType) },
    );
    return { ...stored, url: mediaApiPath(target.messageId, target.index) };
  };
}

export interface InboundJobDeps {
  db: Database;
  copyMedia: CopyMedia;
  /** The accountability loop's settings; without them the message is only stored. */
  accountability?: AccountabilityOptions;
  /** With TWILIO_DELETE_MEDIA: removes the media at Twilio once our copy is committed. */
  deleteTwilioMedia?: (item: MediaItem) => Promise<void>;
  log?: { warn(obj: object, msg: string): void };
}

/**
 * The inbound job: copies every media item of a claimed message (not only the first) into
 * storage, one after another (parallel uploads would multiply the buffers some backends
 * keep per upload: S3 multipart parts are 5 MiB each); then, in one transaction, runs the
 * accountability loop (src/services/accountability.ts: feed post, task, points, the reply
 * recorded) and marks the message processed, so that happens exactly once even when the
 * job is retried. Retrying is safe: objects are overwritten under the same keys, and the
 * transaction commits only for the current claim. The transactions of messages that are
 * ready at the same time share one commit (src/db/transaction-batches.ts); each still
 * commits all of its message or nothing, and a failing one never undoes another.
 */
export function processInboundJob(deps: InboundJobDeps): ProcessJob<ClaimedMessage> {
  const batches = transactionBatches(deps.db);
  return async (message) => {
    const stored: StoredMedia[] = [];
    const itemErrors: string[] = [];
    for (const [index, item] of message.media_items.entries()) {
      try {
        const copied = await deps.copyMedia(item, {
          messageId: message.id,
          messageSid: message.message_sid,
          index,
        });
        stored.push({ index, ...copied });
      } catch (error) {
        if (!isPermanent(error)) throw error;
        const reason = describeError(error);
        stored.push({ index, content_type: item.content_type, error: reason });
        itemErrors.push(`media ${index}: ${reason}`);
      }
    }

    const work = async (tx: Queryable) => {
      // The reply is recorded by the statement that marks the message processed.
      const reply = deps.accountability
        ? await accountabilityReply(tx, message, stored, deps.accountability)
        : undefined;
      const kept = await markProcessed(
        tx,
        { id: message.id, claims: message.claims },
        {
          storageUrls: stored.flatMap((item) => (item.url === undefined ? [] : [item.url])),
          storedMedia: stored,
          error: itemErrors.length > 0 ? itemErrors.join('; ') : null,
        },
        reply,
      );
      if (!kept) throw new ClaimLostError(message.id);
    };
    // A message with media runs in a transaction of its own: the proof check holds the
    // deployment-wide near-copy lock until commit (src/db/proofs.ts), which inside a shared
    // batch would make every photo wait for whole batches, and could close a lock cycle
    // with another process's batch (a deadlock, aborted after a second). Texts share
    // commits, ordered by sender so batches lock user rows in one order.
    if (message.media_items.length > 0) await deps.db.transaction(work);
    else await batches.run(work, { lockOrder: message.sender });

    if (deps.deleteTwilioMedia) {
      for (const [index, item] of message.media_items.entries()) {
        if (stored[index]?.key === undefined) continue;
        await deps
          .deleteTwilioMedia(item)
          .catch((error: unknown) =>
            deps.log?.warn(
              { messageId: message.id, index, err: describeError(error) },
              'could not delete media at Twilio',
            ),
          );
      }
    }
  };
}
