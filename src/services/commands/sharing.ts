import { setSharesProofs, sharesProofs } from '../../db/participant.js';
import { selfServiceTexts } from '../self-service-texts.js';
import type { Command } from './command.js';

/** The words `sharing` takes, lower case, and the setting each one asks for. */
const SETTINGS: ReadonlyMap<string, boolean> = new Map([
  ['on', true],
  ['off', false],
]);

/**
 * `sharing on|off`: whether the person's proofs are shared with their groups, the setting
 * the participant app's Me page changes (users.share_proofs); `sharing` alone says which it
 * is. The reply states the setting rather than the change, so a message processed again
 * answers alike.
 */
export const sharingCommand: Command = {
  name: 'sharing',
  usage: 'sharing on|off',
  summary: 'whether your groups see your proofs ("sharing" alone says which)',
  async run({ tx, user }, args) {
    if (!args) return selfServiceTexts.sharing(await sharesProofs(tx, user.id));
    const share = SETTINGS.get(args.toLowerCase().replace(/[.!]+$/, ''));
    if (share === undefined) {
      return selfServiceTexts.sharingUnknown(args, await sharesProofs(tx, user.id));
    }
    // The same function as PATCH /app/api/me; setting it twice changes nothing.
    await setSharesProofs(tx, user.id, share);
    return selfServiceTexts.sharing(share);
  },
};
