import type { Database, Queryable } from '../db/executor.js';
import { type ClaimedMessage, markProcessed } from '../db/message-queue.js';
import type { MediaItem, StoredMedia } from '../domain/message.js';
import type { MediaFingerprint } from '../media/fingerprint.js';
import { ClaimLostError, describeError, isPermanent } from '../domain/processing-errors.js';

/** Where one media item was copied to. */
export interface CopiedMedia {
  key: string;
  size: number;
  contentType: string;
  /** The URL recorded in `storage_urls` (see StorageUrls). */
  url: string;
  /** Hashes of the copied bytes; without them a photo's proof check is skipped. */
  fingerprint?: MediaFingerprint;
}

/**
 * Copies one media item from Twilio into our bucket. Throws an error with
 * `permanent: true` when trying again cannot help (refused host, too large, 4xx): that
 * item is recorded as failed and the others go on. Any other error retries the message.
 */
export type CopyMedia = (
  item: MediaItem,
  target: { messageId: number; messageSid: string; index: number },
) => Promise<CopiedMedia>;

/**
 * Work done in the same transaction that marks the message processed, so it happens
 * exactly once even when processing is retried (completing a task, queueing a reply).
 */
export type OnMessageProcessed = (
  tx: Queryable,
  message: ClaimedMessage,
  stored: StoredMedia[],
) => Promise<void>;

export interface ProcessInboundDeps {
  db: Database;
  copyMedia: CopyMedia;
  onProcessed?: OnMessageProcessed;
  /** With TWILIO_DELETE_MEDIA: removes the media at Twilio once our copy is committed. */
  deleteTwilioMedia?: (item: MediaItem) => Promise<void>;
  log?: { warn(obj: object, msg: string): void };
}

/**
 * Processes one claimed inbound message: copies every media item (not only the first)
 * into storage, then, in one transaction, runs the follow-up work and marks the message
 * processed. Retrying is safe: objects are overwritten under the same keys, and the
 * transaction commits only for the current claim.
 */
export async function processInboundMessage(
  message: ClaimedMessage,
  deps: ProcessInboundDeps,
): Promise<void> {
  const stored: StoredMedia[] = [];
  const urls: string[] = [];
  const itemErrors: string[] = [];
  for (const [index, item] of message.media_items.entries()) {
    try {
      const copied = await deps.copyMedia(item, {
        messageId: message.id,
        messageSid: message.message_sid,
        index,
      });
      stored.push({
        index,
        key: copied.key,
        content_type: copied.contentType,
        size: copied.size,
        url: copied.url,
        ...(copied.fingerprint
          ? { sha256: copied.fingerprint.sha256, dhash: copied.fingerprint.dhash }
          : {}),
      });
      urls.push(copied.url);
    } catch (error) {
      if (!isPermanent(error)) throw error;
      const reason = describeError(error);
      stored.push({ index, content_type: item.content_type, error: reason });
      itemErrors.push(`media ${index}: ${reason}`);
    }
  }

  await deps.db.transaction(async (tx) => {
    await deps.onProcessed?.(tx, message, stored);
    const kept = await markProcessed(
      tx,
      { id: message.id, claims: message.claims },
      {
        storageUrls: urls,
        storedMedia: stored,
        error: itemErrors.length > 0 ? itemErrors.join('; ') : null,
      },
    );
    if (!kept) throw new ClaimLostError(message.id);
  });

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
}
