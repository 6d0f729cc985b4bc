import * as outboundTable from '../db/outbound.js';
import { notFound } from '../domain/errors.js';
import type { Page, UseCaseDeps } from './deps.js';

export type { OutboundRow } from '../db/outbound.js';

/**
 * What Taskwire sent or will send, newest first; optionally the replies to one inbound
 * message. Queueing a message to send is services/send-message.ts.
 */
export function listOutbound(
  deps: Pick<UseCaseDeps, 'db'>,
  query: { limit: number; offset: number; inboundMessageId?: number | null },
): Promise<Page<outboundTable.OutboundRow>> {
  return outboundTable.listOutbound(deps.db, query);
}

/** One outbound message; `not_found` when there is none with that id. */
export async function getOutbound(
  deps: Pick<UseCaseDeps, 'db'>,
  id: number,
): Promise<outboundTable.OutboundRow> {
  const row = await outboundTable.findOutbound(deps.db, id);
  if (!row) throw notFound(`No outbound message with id ${id}.`);
  return row;
}
