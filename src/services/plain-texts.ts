import type { Queryable } from '../db/executor.js';
import type { ClaimedMessage, InboundReply } from '../db/message-queue.js';
import { findSendersWithPendingTasks } from '../db/plain-texts.js';
import { channelOf } from '../domain/message.js';
import type { TaskRow } from '../domain/task.js';
import type { AccountabilityOptions } from './accountability.js';
import { mayBeCommand } from './commands/index.js';
import { replyTexts } from './reply-texts.js';
import { personTimeZone } from './time-zones.js';

/**
 * Plain texts: messages without media that are no command ("done", "hi", a question).
 * Most of what people send is one, and the loop's answer to each is the same read-only
 * look at the sender's pending task, so the inbound job answers the plain texts that are
 * ready together with two statements for all of them, where each alone took three
 * (bench:loop, issue 14). The answer is the one src/services/accountability.ts gives
 * the same message alone.
 */
export const isPlainText = (message: ClaimedMessage): boolean =>
  message.media_items.length === 0 && !mayBeCommand(message);

/** What a plain text is answered: the sender's pending task, or that they have none. */
export const plainTextReply = (task: TaskRow | null, timeZone: string | null): string =>
  task ? replyTexts.taskPending(task, timeZone) : replyTexts.noTask();

/**
 * The replies to plain texts whose senders are known by their address, each recorded as
 * its sender's latest inbound, with one statement for all of them. A text whose sender is not
 * known that way (a WaId to look up, someone to register) is missing from the map: it
 * goes through the accountability loop alone.
 */
export async function answerPlainTexts(
  tx: Queryable,
  texts: readonly ClaimedMessage[],
  options: Pick<AccountabilityOptions, 'defaultTimezone'>,
): Promise<Map<number, InboundReply>> {
  const senders = await findSendersWithPendingTasks(
    tx,
    texts.map((text) => ({ sender: text.sender, at: text.created_at, channel: channelOf(text) })),
  );
  const replies = new Map<number, InboundReply>();
  for (const text of texts) {
    const found = senders.get(text.sender);
    if (!found) continue;
    replies.set(text.id, {
      kind: 'reply',
      inboundMessageId: text.id,
      userId: found.user.id,
      // Back to the sender, from the number they wrote to, on the same channel.
      to: text.from_number,
      from: text.to_number,
      body: plainTextReply(found.task, personTimeZone(found.user, options.defaultTimezone)),
    });
  }
  return replies;
}
