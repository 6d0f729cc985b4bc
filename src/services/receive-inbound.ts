import type { InboundMessage } from '../domain/message.js';

/** Where received messages go: durably stored, once per MessageSid. */
export interface InboundMessageStore {
  /** Resolves once the message is committed; `id` is null for a MessageSid already stored. */
  store(message: InboundMessage): Promise<{ id: number | null }>;
}

export interface ReceiveInboundDeps {
  store: InboundMessageStore;
  /** Told about each newly stored message, e.g. to wake a worker at once instead of at its next poll. */
  onStored?: (id: number) => void;
}

export interface ReceiveOutcome {
  id: number | null;
  duplicate: boolean;
}

/**
 * Receives one inbound message from Twilio: stores it (every message, from known and
 * unknown senders alike) and leaves processing to the workers, so the webhook can answer
 * Twilio quickly. A re-delivery of a stored MessageSid changes nothing.
 */
export async function receiveInbound(
  message: InboundMessage,
  deps: ReceiveInboundDeps,
): Promise<ReceiveOutcome> {
  const { id } = await deps.store.store(message);
  if (id === null) return { id: null, duplicate: true };
  deps.onStored?.(id);
  return { id, duplicate: false };
}
