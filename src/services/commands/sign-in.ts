import { createSignInLink, endSessionsOfUser, signInTexts } from '../sign-in.js';
import type { Command } from './command.js';

/**
 * `link`: a magic link to the participant app, valid 15 minutes, once. The reply is the
 * only place the token exists outside the person's phone (the database keeps a hash, and
 * the recorded reply loses the token once it is used).
 */
export const linkCommand: Command = {
  name: 'link',
  aliases: ['login', 'signin'],
  usage: 'link',
  summary: 'a sign-in link to the Taskwire app (your tasks, feed and leaderboards)',
  async run({ tx, user, now, appBaseUrl }) {
    const { url } = await createSignInLink(tx, user.id, appBaseUrl ?? 'http://localhost:3000', now);
    return signInTexts.link(url);
  },
};

/** `logout`: ends every session of the person's in the app. */
export const logoutCommand: Command = {
  name: 'logout',
  aliases: ['signout'],
  usage: 'logout',
  summary: 'sign out of the Taskwire app everywhere',
  async run({ tx, user, now }) {
    return signInTexts.loggedOut(await endSessionsOfUser(tx, user.id, now));
  },
};
