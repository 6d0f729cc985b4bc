import { repliedMessageSid } from '../../twilio/inbound-params.js';
import { castVote } from '../reviews.js';
import type { Command, CommandContext } from './command.js';

/**
 * Peer review over WhatsApp (src/services/reviews.ts): `approve <n>`, `reject <n> <reason>`,
 * or 👍 / 👎 and why as a quoted reply to the review request (OriginalRepliedMessageSid
 * names it); without a number or a quote, the one proof waiting for this person's review.
 */
const SKIN_TONES = ['', '\u{1F3FB}', '\u{1F3FC}', '\u{1F3FD}', '\u{1F3FE}', '\u{1F3FF}', '\uFE0F'];
const thumbs = (thumb: string) => SKIN_TONES.map((tone) => `${thumb}${tone}`);

function vote(context: CommandContext, approve: boolean, args: string) {
  const numbered = /^#?(\d{1,12})\b\s*([\s\S]*)$/.exec(args);
  return castVote(
    context.tx,
    {
      voter: context.user,
      approve,
      reviewId: numbered ? Number(numbered[1]) : null,
      repliedSid: repliedMessageSid(context.message.raw),
      reason: (numbered ? (numbered[2] ?? '') : args).trim(),
      now: context.now,
    },
    { defaultTimezone: context.defaultTimezone },
  );
}

export const approveCommand: Command = {
  name: 'approve',
  aliases: thumbs('👍'),
  usage: 'approve <n>',
  summary: "approve a member's proof (or reply 👍 to it)",
  run: (context, args) => vote(context, true, args),
};

export const rejectCommand: Command = {
  name: 'reject',
  aliases: thumbs('👎'),
  usage: 'reject <n> <why>',
  summary: 'reject it, saying why (or reply 👎 and why)',
  run: (context, args) => vote(context, false, args),
};
