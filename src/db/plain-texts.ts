import type { TaskRow } from '../domain/task.js';
import type { UserRow } from '../domain/user.js';
import type { Queryable } from './executor.js';
import { taskColumns } from './tasks.js';
import { userColumns } from './users.js';

/** A message's sender, as findSendersWithPendingTasks looks many up at once. */
export interface InboundSender {
  sender: string;
  at: Date;
  channel: 'whatsapp' | 'sms';
}

/** A sender's user, with their messages recorded, and the task a plain text reports. */
export interface SenderWithTask {
  user: UserRow;
  /** Their active task due first (ties: the older one); null when they have none. */
  task: TaskRow | null;
}

const taskFields = taskColumns.split(',').map((column) => column.trim());

// Per sender the user findSenderRecordingInbound (src/db/users.ts) would choose; each
// user's inbound times moved forward once, to the latest of its messages, with the rows
// locked in id order first, so two processes' batches cannot deadlock on them; and each
// user's pending task as findActiveTaskForUser (src/db/tasks.ts) finds it, unlocked: a
// plain text only reads it.
const sql = `
WITH wanted AS (
  SELECT w.sender, max(w.at) AS at, max(w.at) FILTER (WHERE w.whatsapp) AS whatsapp_at
  FROM unnest($1::text[], $2::timestamptz[], $3::boolean[]) AS w(sender, at, whatsapp)
  GROUP BY w.sender
),
found AS (
  SELECT w.*, (SELECT u.id FROM users u
               WHERE u.phone_number = w.sender OR u.whatsapp_id = w.sender
               ORDER BY (u.phone_number = w.sender) DESC NULLS LAST, u.id
               LIMIT 1) AS user_id
  FROM wanted w
),
per_user AS (
  SELECT user_id, max(at) AS at, max(whatsapp_at) AS whatsapp_at, array_agg(sender) AS senders
  FROM found WHERE user_id IS NOT NULL GROUP BY user_id
),
locked AS (
  SELECT id FROM users WHERE id IN (SELECT user_id FROM per_user) ORDER BY id FOR NO KEY UPDATE
),
recorded AS (
  UPDATE users SET last_inbound_at = GREATEST(users.last_inbound_at, p.at),
    last_whatsapp_inbound_at = GREATEST(users.last_whatsapp_inbound_at, p.whatsapp_at)
  FROM per_user p
  WHERE users.id = p.user_id AND users.id IN (SELECT id FROM locked)
  RETURNING p.senders, ${userColumns.replace(/(\w+)/g, 'users.$1')}
)
SELECT r.*, ${taskFields.map((field) => `t.${field} AS task_${field}`).join(', ')}
FROM recorded r
LEFT JOIN LATERAL (
  SELECT ${taskColumns} FROM tasks
  WHERE user_id = r.id AND status = 'active'
  ORDER BY due_time, id
  LIMIT 1
) t ON true`;

type Row = UserRow & { senders: string[] } & Record<string, unknown>;

/**
 * For the inbound job's plain texts (src/services/plain-texts.ts), in one statement: the
 * user each sender is known as, by phone number or WhatsApp id, with the messages recorded
 * as their latest inbound, and that user's pending task. Senders nobody is known as are
 * missing from the map (the caller looks them up one by one, by WaId or registering them).
 */
export async function findSendersWithPendingTasks(
  db: Queryable,
  inbound: readonly InboundSender[],
): Promise<Map<string, SenderWithTask>> {
  if (inbound.length === 0) return new Map();
  const rows = await db.query<Row>(sql, [
    inbound.map((item) => item.sender),
    inbound.map((item) => item.at),
    inbound.map((item) => item.channel === 'whatsapp'),
  ]);
  const found = new Map<string, SenderWithTask>();
  for (const row of rows) {
    const user: Record<string, unknown> = {};
    const task: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(row)) {
      if (key === 'senders') continue;
      if (key.startsWith('task_')) task[key.slice('task_'.length)] = value;
      else user[key] = value;
    }
    const entry = {
      user: user as unknown as UserRow,
      task: task.id === null ? null : (task as unknown as TaskRow),
    };
    for (const sender of row.senders) found.set(sender, entry);
  }
  return found;
}
