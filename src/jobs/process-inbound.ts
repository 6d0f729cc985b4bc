import type { Database, Queryable } from '../db/executor.js';
import { type ClaimedMessage, markProcessed, markTextsProcessed } from '../db/message-queue.js';
import { RUN_ALONE, setBatches } from '../db/transaction-batches.js';
import { type MediaItem, type StoredMedia, mediaApiPath } from '../domain/message.js';
import { ClaimLostError, describeError, isPermanent } from '../domain/processing-errors.js';
import { type AccountabilityOptions, accountabilityReply } from '../services/accountability.js';
import { answerPlainTexts, isPlainText } from '../services/plain-texts.js';
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
  /**
   * Messages with media handled at once (WORKER_CONCURRENCY; default: no limit). The
   * worker takes more messages than that at a time: texts need only the database.
   */
  mediaConcurrency?: number;
  /**
   * Called once a message's transaction committed with its reply recorded: wakes the
   * senders. The reply's INSERT sends no NOTIFY of its own (src/db/message-queue.ts).
   */
  repliesQueued?: () => void;
  log?: { warn(obj: object, msg: string): void };
}

/** Media copies and their items' problems, for the statement that marks a message done. */
interface CopiedMedia {
  stored: StoredMedia[];
  itemErrors: string[];
}

const NO_MEDIA: CopiedMedia = { stored: [], itemErrors: [] };

/**
 * The inbound job: copies every media item of a claimed message (not only the first) into
 * storage, one after another (parallel uploads would multiply the buffers some backends
 * keep per upload: S3 multipart parts are 5 MiB each); then, in one transaction, runs the
 * accountability loop (src/services/accountability.ts: feed post, task, points, the reply
 * recorded) and marks the message processed, so that happens exactly once even when the
 * job is retried. Retrying is safe: objects are overwritten under the same keys, and the
 * transaction commits only for the current claim.
 *
 * Text messages that are ready at the same time share one transaction
 * (src/db/transaction-batches.ts), and the plain ones among them (no command) are answered
 * together, two statements for all (src/services/plain-texts.ts); each message still
 * commits all of its work or nothing, and a failing one never undoes another.
 */
export function processInboundJob(deps: InboundJobDeps): ProcessJob<ClaimedMessage> {
  // The loop for one message, and the statement that marks it processed.
  const processAlone = async (tx: Queryable, message: ClaimedMessage, media: CopiedMedia) => {
    const { stored, itemErrors } = media;
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

  // Plain texts from senders known by their address: answered here, two statements for
  // all. The others (a sender with a command among their texts, keeping their order; a
  // sender to look up by WaId or to register) run alone once the batch committed: in the
  // batch they would lock their user rows after the set statement locked the others' in id
  // order, an order another process's batch may take the other way round (a deadlock).
  const answerPlainTogether = async (
    tx: Queryable,
    texts: ClaimedMessage[],
  ): Promise<(undefined | typeof RUN_ALONE)[]> => {
    const accountability = deps.accountability;
    if (!accountability) return texts.map(() => RUN_ALONE);
    const commanding = new Set(texts.filter((text) => !isPlainText(text)).map((t) => t.sender));
    const plain = texts.filter((text) => !commanding.has(text.sender));
    const replies = await answerPlainTexts(tx, plain, accountability);
    const answered = plain.flatMap((text) => {
      const reply = replies.get(text.id);
      return reply ? [{ claim: { id: text.id, claims: text.claims }, reply }] : [];
    });
    const kept = await markTextsProcessed(tx, answered);
    const lost = answered.find(({ claim }) => !kept.has(claim.id));
    // Rolls the batch back; each text then runs alone, and only the lost one says so.
    if (lost) throw new ClaimLostError(lost.claim.id);
    return texts.map((text) => (replies.has(text.id) ? undefined : RUN_ALONE));
  };

  const texts = setBatches<ClaimedMessage, void>(deps.db, {
    together: answerPlainTogether,
    async alone(tx, text) {
      // Alone, a plain text still takes the two statements of the set path.
      if (isPlainText(text)) {
        const [answered] = await answerPlainTogether(tx, [text]);
        if (answered !== RUN_ALONE) return;
      }
      await processAlone(tx, text, NO_MEDIA);
    },
    // Batches lock their senders' user rows in one order (see setBatches).
    lockOrder: (text) => text.sender,
  });
  const mediaSlots = slots(deps.mediaConcurrency ?? Number.POSITIVE_INFINITY);
  const photoTransactions = slots(PHOTO_TRANSACTIONS);

  const copyAll = async (message: ClaimedMessage): Promise<CopiedMedia> => {
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
    return { stored, itemErrors };
  };

  return async (message) => {
    if (message.media_items.length === 0) {
      await texts.run(message);
      if (deps.accountability) deps.repliesQueued?.();
      return;
    }
    // A message with media runs in a transaction of its own: the proof check holds its
    // near-copy locks until commit (src/db/proofs.ts), which inside a shared batch would
    // make a near copy wait for whole batches, and could close a lock cycle with another
    // process's batch (a deadlock, aborted after a second).
    const media = await mediaSlots(async () => {
      const copied = await copyAll(message);
      await photoTransactions(() => deps.db.transaction((tx) => processAlone(tx, message, copied)));
      return copied;
    });
    if (deps.accountability) deps.repliesQueued?.();

    if (deps.deleteTwilioMedia) {
      for (const [index, item] of message.media_items.entries()) {
        if (media.stored[index]?.key === undefined) continue;
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

/**
 * Transactions of messages with media one process runs at once. Each holds a pool
 * connection from its first statement to its commit, and a photo's is the longest of the
 * loop (task, near-copy locks, check, post, completion, points); with 8 at once and a pool
 * of 10, webhooks waited up to 1.7 s for a connection behind them, when every proof took
 * one deployment-wide lock. Proofs lock only their hash bands now (src/db/proofs.ts), so
 * they no longer wait for each other, but more at once still did not go faster on 2 cores:
 * bench:loop with 4 sustained 200/s where 2 sustained 250/s (BENCHMARKS.md). Media that
 * proves nothing waits its turn too: rarer, and cheap.
 */
export const PHOTO_TRANSACTIONS = 2;

/** Runs at most `limit` of the functions given to it at once; the others wait their turn. */
function slots(limit: number): <T>(run: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async (run) => {
    if (active < limit) active += 1;
    // Waits for a slot that a finishing run hands over (it stays counted as taken).
    else await new Promise<void>((resolve) => queue.push(resolve));
    try {
      return await run();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active -= 1;
    }
  };
}
