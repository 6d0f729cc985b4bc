import type { Queryable } from './executor.js';
import type { OutboundRow } from './outbound.js';

export type ConversationFilter = 'failed' | 'awaiting_review' | 'opted_out';

export interface ConversationRow {
  /** The person's number without a channel prefix (`+1555…`): the conversation's key. */
  number: string;
  user_id: number | null;
  username: string | null;
  opted_out: boolean;
  last_activity_at: Date | null;
  last_inbound_at: Date | null;
  /** Opens the 24-hour window in which free-form WhatsApp messages may be sent. */
  last_whatsapp_inbound_at: Date | null;
  last_body: string | null;
  inbound_count: number;
  /** Inbound messages that failed to process plus messages to them Twilio failed to deliver. */
  failed_count: number;
  awaiting_review_count: number;
}

// Read from the per-number summaries of migration 0024 (conversation_inbound,
// conversation_outbound), once foldConversationChanges has brought them up to date: as many
// rows as people, whatever the length of the history. The last body is one primary-key
// lookup of the newest message. Outbound `to_number` carries the channel (`whatsapp:+1…`);
// the summary's number does not.
const conversationsSql = `
  WITH reviews AS (
    SELECT user_id, count(*)::int AS waiting FROM tasks
     WHERE status = 'pending_review' GROUP BY user_id
  ), numbers AS (
    SELECT number FROM conversation_inbound
    UNION SELECT phone_number FROM users WHERE phone_number IS NOT NULL
  )
  SELECT n.number, u.id AS user_id, u.username, (u.opted_out_at IS NOT NULL) AS opted_out,
         greatest(i.last_at, o.last_at, u.created_at) AS last_activity_at,
         i.last_at AS last_inbound_at, i.last_whatsapp_at AS last_whatsapp_inbound_at,
         i.last_id, coalesce(i.total, 0) AS inbound_count,
         coalesce(i.failed, 0) + coalesce(o.failed, 0) AS failed_count,
         coalesce(r.waiting, 0) AS awaiting_review_count
    FROM numbers n
    LEFT JOIN users u ON u.phone_number = n.number
    LEFT JOIN conversation_inbound i ON i.number = n.number
    LEFT JOIN conversation_outbound o ON o.number = n.number
    LEFT JOIN reviews r ON r.user_id = u.id`;

/** The columns of a ConversationRow from `c`, a page of conversationsSql's rows. */
const rowColumns = `c.number, c.user_id, c.username, c.opted_out, c.last_activity_at,
  c.last_inbound_at, c.last_whatsapp_inbound_at,
  (SELECT m.body FROM messages m WHERE m.id = c.last_id) AS last_body,
  c.inbound_count, c.failed_count, c.awaiting_review_count`;

/**
 * Moves the changes that writes appended (conversation_changes) into the summaries, in one
 * call of taskwire_fold_conversations() (migration 0024), and resolves to how many there
 * were. Writers never wait for it; two folds wait for each other. The change table holds
 * what happened since the last fold: every inbox read folds first, and so does the
 * conversation fold job (src/jobs/conversation-fold.ts) now and then.
 */
export async function foldConversationChanges(db: Queryable): Promise<number> {
  const [row] = await db.query<{ folded: number }>(
    'SELECT taskwire_fold_conversations() AS folded',
  );
  return row?.folded ?? 0;
}

export interface ConversationQuery {
  limit: number;
  offset: number;
  search: string | null;
  filter: ConversationFilter | null;
}

/** The SQL of one page and of its total (exported for the plan test). */
export function conversationsPageSql(query: ConversationQuery): {
  page: string;
  count: string;
  params: unknown[];
  pageParams: unknown[];
} {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.search) {
    params.push(`%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    const p = `$${params.length}`;
    // A search does read the messages of everyone: it looks for text in them.
    where.push(`(c.username ILIKE ${p} OR c.number LIKE ${p}
      OR EXISTS (SELECT 1 FROM messages m WHERE m.sender = c.number AND m.body ILIKE ${p}))`);
  }
  if (query.filter === 'failed') where.push('c.failed_count > 0');
  if (query.filter === 'awaiting_review') where.push('c.awaiting_review_count > 0');
  if (query.filter === 'opted_out') where.push('c.opted_out');
  const filtered = `SELECT * FROM (${conversationsSql}) c ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
  const order = 'ORDER BY c.last_activity_at DESC NULLS LAST, c.number';
  return {
    // The page first, then its last bodies: one lookup per row shown.
    page: `SELECT ${rowColumns} FROM (${filtered} ${order}
      LIMIT $${params.length + 1} OFFSET $${params.length + 2}) c ${order}`,
    count: `SELECT count(*)::int AS total FROM (${filtered}) f`,
    params,
    pageParams: [...params, query.limit, query.offset],
  };
}

/** Conversations, newest activity first, searched and filtered. */
export async function listConversations(
  db: Queryable,
  query: ConversationQuery,
): Promise<{ items: ConversationRow[]; total: number }> {
  await foldConversationChanges(db);
  const sql = conversationsPageSql(query);
  const items = await db.query<ConversationRow>(sql.page, sql.pageParams);
  const [count] = await db.query<{ total: number }>(sql.count, sql.params);
  return { items, total: count?.total ?? 0 };
}

/** One conversation by its number, or null when nobody has it and nothing came from it. */
export async function findConversation(
  db: Queryable,
  number: string,
): Promise<ConversationRow | null> {
  await foldConversationChanges(db);
  const rows = await db.query<ConversationRow>(
    `SELECT ${rowColumns} FROM (${conversationsSql}) c WHERE c.number = $1`,
    [number],
  );
  return rows[0] ?? null;
}

/** What Taskwire sent to a number (any channel), newest first. */
export function outboundTo(db: Queryable, number: string, limit: number): Promise<OutboundRow[]> {
  return db.query<OutboundRow>(
    `SELECT id, created_at, kind, inbound_message_id, user_id, to_number, from_number, body,
            media_urls, twilio_sid, status, error_code, error_message, attempts, sent_at,
            status_updated_at, outbox, task_id, content_sid, content_variables
       FROM outbound_messages
      WHERE regexp_replace(to_number, '^[a-z]+:', '') = $1
      ORDER BY id DESC LIMIT $2`,
    [number, limit],
  );
}
