import { optIn, optOut } from '../../db/consent.js';
import { consentWord } from '../consent.js';
import { consentTexts } from '../consent-texts.js';
import type { CommandContext } from './command.js';

/**
 * The consent words, checked before the command table: the whole message is the word
 * (bare `CANCEL` opts out, `cancel 2` is the `cancel` command). Null when the message is
 * not a consent word, or is `YES` from someone opted in (an ordinary answer then).
 * Runs in the processing transaction, so a re-delivered STOP changes nothing twice.
 */
export async function consentReply(context: CommandContext, body: string): Promise<string | null> {
  const word = consentWord(body);
  if (word === 'out') {
    await optOut(context.tx, context.user.id, 'keyword', context.now);
    return consentTexts.optedOut();
  }
  if (word === 'in') {
    if (await optIn(context.tx, context.user.id)) return consentTexts.optedIn();
    return /^\s*yes\W*$/i.test(body) ? null : consentTexts.alreadyIn();
  }
  return null;
}
