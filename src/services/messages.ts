import { requeueMessage } from '../db/message-queue.js';
import * as messagesTable from '../db/messages.js';
import { conflict, notFound, serviceUnavailable } from '../domain/errors.js';
import type { MessageRow } from '../domain/message.js';
import type { ObjectStream } from '../storage/adapter.js';
import type { Page, UseCaseDeps } from './deps.js';

export type MessageDeps = Pick<UseCaseDeps, 'db'>;

/** Told about a storage failure (the key holds no phone number; the error may be logged). */
export type OnStorageFailure = (key: string, error: unknown) => void;

// A numeric id; anything else is taken for a MessageSid.
const NUMERIC_ID = /^\d{1,15}$/;

/** Inbound messages, newest first, optionally of one sender (`+1555…`, no channel prefix). */
export function listMessages(
  deps: MessageDeps,
  query: { limit: number; offset: number; sender: string | null },
): Promise<Page<MessageRow>> {
  return messagesTable.listMessages(deps.db, query);
}

/** One message by its numeric id or its MessageSid; `not_found` when there is none. */
export async function findMessage(deps: MessageDeps, idOrSid: string): Promise<MessageRow> {
  const row = NUMERIC_ID.test(idOrSid)
    ? await messagesTable.findMessageById(deps.db, Number(idOrSid))
    : await messagesTable.findMessageBySid(deps.db, idOrSid);
  if (!row) throw notFound(`No message with id or MessageSid "${idOrSid}".`);
  return row;
}

/**
 * Queues a failed (or processed) message for processing again, with a fresh set of
 * attempts. A message a worker holds right now is a `conflict`: requeueing it would have
 * two workers process it. `onQueued` wakes this process's worker.
 */
export async function reprocessMessage(
  deps: MessageDeps & { onQueued?: (id: number) => void },
  idOrSid: string,
): Promise<MessageRow> {
  const message = await findMessage(deps, idOrSid);
  const queued = await requeueMessage(deps.db, message.id);
  if (!queued) {
    throw conflict(`Message ${message.id} is being processed right now; try again shortly.`);
  }
  deps.onQueued?.(queued.id);
  return queued;
}

/**
 * The stored copy of media item `index` of a message, from our bucket (never fetched from
 * Twilio again). `not_found` for an index the message does not have, an item that could
 * not be stored or is gone from the bucket; `conflict` while it is not stored yet;
 * `service_unavailable` while storage does not answer (retryable, no fault of the caller).
 */
export async function readStoredMedia(
  deps: Pick<UseCaseDeps, 'db' | 'store'>,
  idOrSid: string,
  index: number,
  onStorageFailure?: OnStorageFailure,
): Promise<ObjectStream> {
  const message = await findMessage(deps, idOrSid);
  if (index >= message.media_items.length) {
    throw notFound(
      `Message ${message.id} has ${message.media_items.length} media item(s); there is no index ${index}.`,
    );
  }
  const stored = message.stored_media.find((item) => item.index === index);
  if (!stored) {
    throw conflict(
      `Media ${index} of message ${message.id} is not stored yet (processing_status: ${message.processing_status}).`,
    );
  }
  const key = stored.key;
  if (!key) {
    throw notFound(
      `Media ${index} of message ${message.id} could not be stored: ${stored.error ?? 'unknown error'}.`,
    );
  }
  const object = await deps.store.get(key).catch((error: unknown) => {
    onStorageFailure?.(key, error);
    throw serviceUnavailable(
      `Storage did not answer for media ${index} of message ${message.id}; try again shortly.`,
      { cause: error },
    );
  });
  if (!object) throw notFound(`Media ${index} of message ${message.id} is missing from storage.`);
  return object;
}
