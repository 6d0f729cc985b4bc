import { type GroupRow, joinUrl } from '../domain/group.js';

/**
 * What Taskwire answers to `join`, `leave`, `group` and `invite`, and when a task or habit
 * could be in several of the person's groups. `number` is the WhatsApp number the person
 * wrote to: the join links open a chat with it.
 */

const inviteLine = (group: GroupRow, number: string | null) => {
  const link = joinUrl(number, group.invite_code);
  return `code ${group.invite_code}${link ? `, ${link}` : ''}`;
};

const numbered = (groups: readonly GroupRow[]) =>
  groups.map((group, index) => `${index + 1}. ${group.name}`).join('\n');

export const groupTexts = {
  joinUsage: () =>
    'To join a group, send "join" and its invite code, e.g. "join K7QP2XMA". Ask a member ' +
    'for the code: they get it by sending "invite".',
  unknownCode: (code: string) =>
    `No group has the invite code ${code}. Check it with whoever sent it (they can send ` +
    '"invite" for the code and link).',
  alreadyMember: (group: GroupRow) => `You're already in ${group.name}.`,
  joined: (group: GroupRow, memberCount: number, groupCount: number) =>
    `🎉 You joined ${group.name} (${memberCount} ${memberCount === 1 ? 'member' : 'members'}). ` +
    (groupCount > 1
      ? `Say which group a task is for with "in ${group.name}", e.g. "new Run 5k tomorrow 7am in ${group.name}". `
      : 'Create a task with "new <what> <when>", e.g. "new Run 5k tomorrow 7am". ') +
    'Send "group" to see your groups.',

  notInAny: () => 'You are not in any group. Join one with "join <code>".',
  leaveWhich: (groups: readonly GroupRow[]) =>
    `You are in ${groups.length} groups:\n${numbered(groups)}\n` +
    'Send "leave" and the name or number of the one to leave, e.g. "leave 2".',
  leaveUnknown: (what: string, groups: readonly GroupRow[]) =>
    `You are in no group called "${what}". Your groups:\n${numbered(groups)}\n` +
    'Send "leave" and the name or number of one of them.',
  left: (group: GroupRow, remaining: number) =>
    `You left ${group.name}.` +
    (remaining === 0
      ? ' You are in no group now; join one with "join <code>".'
      : ` Your tasks there stay yours; you are in ${remaining} other ${remaining === 1 ? 'group' : 'groups'}.`),

  groups: (groups: readonly (GroupRow & { role: string })[], number: string | null) =>
    `Your groups:\n${groups
      .map(
        (group, index) =>
          `${index + 1}. ${group.name}${group.role === 'admin' ? ' (admin)' : ''}: ${inviteLine(group, number)}`,
      )
      .join('\n')}\nSend "invite" for a message to forward to a friend.`,

  invite: (group: GroupRow, number: string | null) => {
    const link = joinUrl(number, group.invite_code);
    return (
      `Forward this to invite someone to ${group.name}:\n` +
      (link
        ? `Join me on Taskwire in ${group.name}: ${link}`
        : `Join me on Taskwire in ${group.name}: send "join ${group.invite_code}" to this number.`) +
      `\n(The code is ${group.invite_code}.)`
    );
  },
  inviteWhich: (groups: readonly GroupRow[], number: string | null) =>
    `Your groups' invites:\n${groups
      .map((group, index) => `${index + 1}. ${group.name}: ${inviteLine(group, number)}`)
      .join('\n')}\nSend "invite" and a name or number for a message to forward.`,

  /** A task or habit that could be in several groups: the command again, with `in <group>`. */
  whichGroup: (command: string, groups: readonly GroupRow[]) =>
    `You are in ${groups.length} groups: ${groups.map((group) => group.name).join(', ')}. ` +
    `Which one is it for? Send it again ending with "in <group>", e.g. "${command} in ${groups[0]?.name ?? 'Runners'}". Nothing was created.`,
};
