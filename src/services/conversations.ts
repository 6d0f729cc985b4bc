import {
  type ConversationFilter,
  type ConversationRow,
  findConversation,
  listConversations as listRows,
  outboundTo,
} from '../db/conversations.js';
import type { OutboundRow } from '../db/outbound.js';
import { notFound, validationFailed } from '../domain/errors.js';
import type { Page, UseCaseDeps } from './deps.js';

export type { ConversationFilter } from '../db/conversations.js';

export type ConversationDeps = Pick<UseCaseDeps, 'db' | 'clock'>;

/** WhatsApp allows free-form messages this long after the person last wrote. */
const WINDOW_MS = 24 * 3_600_000;

export interface Conversation extends ConversationRow {
  /** Free-form WhatsApp is allowed now; else a Content template or SMS. */
  window_open: boolean;
  window_closes_at: Date | null;
}

const withWindow = (row: ConversationRow, now: Date): Conversation => {
  const last = row.last_whatsapp_inbound_at ? new Date(row.last_whatsapp_inbound_at) : null;
  const closes = last ? new Date(last.getTime() + WINDOW_MS) : null;
  return {
    ...row,
    window_open: closes !== null && closes > now,
    window_closes_at: closes,
  };
};

/** The admin inbox: one conversation per person (number), newest activity first. */
export async function listConversations(
  deps: ConversationDeps,
  query: {
    limit: number;
    offset: number;
    search: string | null;
    filter: ConversationFilter | null;
  },
): Promise<Page<Conversation>> {
  const page = await listRows(deps.db, { ...query, search: query.search?.trim() || null });
  const now = deps.clock();
  return { items: page.items.map((row) => withWindow(row, now)), total: page.total };
}

const E164 = /^\+[1-9]\d{5,14}$/;

/** One conversation and what was sent to the person (inbound: GET /messages?from_number=). */
export async function getConversation(
  deps: ConversationDeps,
  number: string,
  limit: number,
): Promise<{ conversation: Conversation; outbound: OutboundRow[] }> {
  if (!E164.test(number)) {
    throw validationFailed('The number is not a phone number: write it as +15551234567.');
  }
  const row = await findConversation(deps.db, number);
  if (!row)
    throw notFound('No conversation with that number: nobody has it and nothing came from it.');
  return {
    conversation: withWindow(row, deps.clock()),
    outbound: await outboundTo(deps.db, number, limit),
  };
}
