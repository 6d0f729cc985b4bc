import {
  addMember,
  findGroupByCode,
  groupsOfUser,
  membersOfGroup,
  removeMember,
} from '../../db/groups.js';
import { normalizeInviteCode } from '../../domain/group.js';
import { groupTexts } from '../group-texts.js';
import { pickGroup } from '../groups.js';
import type { Command, CommandContext } from './command.js';

/**
 * `join`, `leave`, `group` and `invite`: the groups a person is in, over WhatsApp. Join
 * links open a chat with the number the person wrote to, which is the group's WhatsApp
 * number (TWILIO_WHATSAPP_NUMBER, or the Sandbox's in development).
 */

const numberWrittenTo = (context: CommandContext) =>
  context.message.to_number.startsWith('whatsapp:') ? context.message.to_number : null;

export const joinCommand: Command = {
  name: 'join',
  usage: 'join <code>',
  summary: 'join a group with its invite code',
  async run({ tx, user }, args) {
    const code = normalizeInviteCode(args.split(/\s+/)[0] ?? '');
    if (!code) return groupTexts.joinUsage();
    const group = await findGroupByCode(tx, code);
    if (!group) return groupTexts.unknownCode(code);
    // In the processing transaction: a re-delivered `join` finds them a member already.
    const result = await addMember(tx, { groupId: group.id, userId: user.id });
    if (!result?.added) return groupTexts.alreadyMember(group);
    const members = await membersOfGroup(tx, group.id);
    const mine = await groupsOfUser(tx, user.id);
    return groupTexts.joined(group, members.length, mine.length);
  },
};

export const leaveCommand: Command = {
  name: 'leave',
  usage: 'leave <group name or number>',
  summary: 'leave a group ("leave" alone when you are in one)',
  async run({ tx, user }, args) {
    const groups = await groupsOfUser(tx, user.id);
    if (groups.length === 0) return groupTexts.notInAny();
    const group = args === '' ? (groups.length === 1 ? groups[0] : null) : pickGroup(groups, args);
    if (!group) {
      return args === '' ? groupTexts.leaveWhich(groups) : groupTexts.leaveUnknown(args, groups);
    }
    await removeMember(tx, { groupId: group.id, userId: user.id });
    return groupTexts.left(group, groups.length - 1);
  },
};

export const groupCommand: Command = {
  name: 'group',
  aliases: ['groups'],
  usage: 'group',
  summary: 'your groups, their invite codes and links',
  async run(context) {
    const groups = await groupsOfUser(context.tx, context.user.id);
    if (groups.length === 0) return groupTexts.notInAny();
    return groupTexts.groups(groups, numberWrittenTo(context));
  },
};

export const inviteCommand: Command = {
  name: 'invite',
  usage: 'invite [group name or number]',
  summary: 'a message with the code and link to forward to a friend',
  async run(context, args) {
    const groups = await groupsOfUser(context.tx, context.user.id);
    if (groups.length === 0) return groupTexts.notInAny();
    const number = numberWrittenTo(context);
    const group = args === '' ? (groups.length === 1 ? groups[0] : null) : pickGroup(groups, args);
    if (group) return groupTexts.invite(group, number);
    return groupTexts.inviteWhich(groups, number);
  },
};
