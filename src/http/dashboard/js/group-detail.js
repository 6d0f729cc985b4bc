// The open group of "Groups": its invite code and join link (with a copy button), its rules
// edited in place, its members (add a person, remove one after asking), its leaderboard by
// week, month or all time, and its latest proofs. Built once per opened group; a refresh
// refills it and leaves settings being edited and a chosen person alone.
import { api, query } from './api.js';
import { emptyState, h, renderPager, replace, timeElement } from './dom.js';
import { postCard } from './feed.js';
import { readRules, ruleFields } from './group-rules.js';
import { leaderboardTable } from './leaderboard.js';
import { notify, showError, withBusy } from './ui.js';

const FEED_SIZE = 6;
const PERIODS = [
  ['week', 'This week'],
  ['month', 'This month'],
  ['all', 'All time'],
];
const ROLES = { member: 'Member', admin: 'Admin' };

let state = { id: null, period: 'week', feedOffset: 0, onChange: () => {}, dirty: false };
let parts = null;

/** The id of the open group, or null. */
export const openGroupId = () => state.id;

export function closeGroup(container) {
  state = { ...state, id: null };
  parts = null;
  replace(container);
}

/** Opens group `id` in `container`; `onChange` runs after a change made here. */
export async function openGroup(container, id, onChange) {
  state = { id, period: 'week', feedOffset: 0, onChange, dirty: false };
  parts = build(container);
  await refreshGroup();
  parts.title.focus({ preventScroll: true });
  parts.panel.scrollIntoView({ block: 'start' });
}

/** Reloads the open group's parts. */
export async function refreshGroup() {
  const id = state.id;
  if (id === null || !parts) return;
  const [group, users] = await Promise.all([api(`/groups/${id}`), api('/users?limit=100')]);
  if (state.id !== id) return; // another group was opened meanwhile
  parts.title.textContent = group.name;
  parts.defaultBadge.hidden = !group.is_default;
  fillInvite(group);
  if (!state.dirty) fillSettings(group);
  fillMembers(group, users.items);
  await Promise.all([loadBoard(), loadGroupFeed()]);
}

function build(container) {
  const title = h('h2', { id: 'group-title', tabindex: '-1' });
  const defaultBadge = h(
    'span',
    { class: 'badge', title: 'Where a sender who never joined a group lands.' },
    'default group',
  );
  const userSelect = h('select', { id: 'group-member-user', name: 'user_id', required: true });
  const addForm = h(
    'form',
    { class: 'add-member', 'aria-label': 'Add a member' },
    h(
      'div',
      { class: 'field grow' },
      h('label', { for: 'group-member-user' }, 'Person'),
      userSelect,
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'group-member-role' }, 'Role'),
      h(
        'select',
        { id: 'group-member-role', name: 'role' },
        Object.entries(ROLES).map(([value, label]) => h('option', { value }, label)),
      ),
    ),
    h('button', { class: 'button primary', type: 'submit' }, 'Add member'),
  );
  addForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void addMember(addForm);
  });
  const settings = h('form', { class: 'stack', 'aria-labelledby': 'group-settings-title' });
  settings.addEventListener('input', () => {
    state.dirty = true;
  });
  settings.addEventListener('submit', (event) => {
    event.preventDefault();
    void saveSettings(settings);
  });
  const periodButtons = PERIODS.map(([value, label]) =>
    h(
      'button',
      {
        class: 'button subtle small',
        type: 'button',
        dataset: { period: value },
        'aria-pressed': String(value === state.period),
        onClick: () => {
          state.period = value;
          for (const button of periodButtons) {
            button.setAttribute('aria-pressed', String(button.dataset.period === value));
          }
          void loadBoard().catch(showError);
        },
      },
      label,
    ),
  );
  const next = {
    title,
    defaultBadge,
    invite: h('div', { class: 'invite stack', dataset: { invite: '' } }),
    settings,
    members: h('div', { dataset: { members: '' } }),
    userSelect,
    addForm,
    boardRange: h('p', { class: 'hint', dataset: { boardRange: '' } }),
    board: h('div', { dataset: { groupBoard: '' } }),
    feed: h('div', { class: 'feed-grid', dataset: { groupFeed: '' } }),
    feedPager: h('nav', { class: 'pager', 'aria-label': 'Group feed pages' }),
  };
  next.panel = h(
    'section',
    { class: 'panel group-detail', 'aria-labelledby': 'group-title', dataset: { openGroup: '' } },
    h(
      'div',
      { class: 'view-head' },
      h('div', { class: 'group-heading' }, title, defaultBadge),
      h(
        'button',
        {
          class: 'button subtle small',
          type: 'button',
          onClick: () => {
            closeGroup(container);
            state.onChange();
          },
        },
        'Close',
      ),
    ),
    h(
      'div',
      { class: 'group-columns' },
      h(
        'section',
        { class: 'group-part', 'aria-labelledby': 'group-invite-title' },
        h('h3', { id: 'group-invite-title' }, 'Invite'),
        next.invite,
      ),
      h(
        'section',
        { class: 'group-part', 'aria-labelledby': 'group-settings-title' },
        h('h3', { id: 'group-settings-title' }, 'Settings'),
        settings,
      ),
    ),
    h(
      'section',
      { class: 'group-part', 'aria-labelledby': 'group-members-title' },
      h('h3', { id: 'group-members-title' }, 'Members'),
      next.members,
      addForm,
    ),
    h(
      'section',
      { class: 'group-part', 'aria-labelledby': 'group-board-title' },
      h(
        'div',
        { class: 'view-head' },
        h('h3', { id: 'group-board-title' }, 'Leaderboard'),
        h('div', { class: 'segmented', role: 'group', 'aria-label': 'Period' }, periodButtons),
      ),
      next.boardRange,
      next.board,
    ),
    h(
      'section',
      { class: 'group-part', 'aria-labelledby': 'group-feed-title' },
      h('h3', { id: 'group-feed-title' }, 'Feed'),
      next.feed,
      next.feedPager,
    ),
  );
  replace(container, next.panel);
  return next;
}

/** Copies `text`; where the browser refuses, selects it in `input` for Ctrl+C. */
async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    notify('Join link copied.');
  } catch {
    input.focus();
    input.select();
    notify('The browser did not allow copying: the link is selected, press Ctrl+C (⌘C).');
  }
}

function fillInvite(group) {
  const code = h('code', { class: 'invite-code', dataset: { inviteCode: '' } }, group.invite_code);
  const how = h(
    'p',
    {},
    'People join by sending ',
    h('code', {}, `join ${group.invite_code}`),
    ' on WhatsApp, or by opening the link.',
  );
  if (!group.join_url) {
    replace(
      parts.invite,
      h('p', {}, 'Invite code ', code),
      how,
      h(
        'p',
        { class: 'hint' },
        'No join link: set TWILIO_WHATSAPP_NUMBER and the link appears here.',
      ),
    );
    return;
  }
  const link = h('input', {
    id: 'group-join-url',
    readonly: true,
    value: group.join_url,
    spellcheck: 'false',
  });
  replace(
    parts.invite,
    h('p', {}, 'Invite code ', code),
    how,
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'group-join-url' }, 'Join link'),
      h(
        'div',
        { class: 'copy-row' },
        link,
        h(
          'button',
          {
            class: 'button subtle',
            type: 'button',
            onClick: () => copy(group.join_url, link),
          },
          'Copy link',
        ),
      ),
    ),
  );
}

function fillSettings(group) {
  replace(
    parts.settings,
    ruleFields('group-edit', group),
    h('button', { class: 'button primary', type: 'submit' }, 'Save changes'),
  );
}

async function saveSettings(form) {
  const saved = await withBusy(form.querySelector('button[type="submit"]'), () =>
    api(`/groups/${state.id}`, { method: 'PATCH', body: readRules(form) }),
  );
  if (!saved) return;
  state.dirty = false;
  notify(`Saved “${saved.name}”.`);
  state.onChange();
}

function fillMembers(group, users) {
  const inGroup = new Set(group.members.map((member) => member.user_id));
  const others = users.filter((user) => !inGroup.has(user.id));
  const chosen = parts.userSelect.value;
  replace(
    parts.userSelect,
    others.length === 0
      ? h('option', { value: '' }, users.length === 0 ? 'Add a person first' : 'Everybody is in')
      : others.map((user) => h('option', { value: user.id }, user.username)),
  );
  if (others.some((user) => String(user.id) === chosen)) parts.userSelect.value = chosen;
  parts.addForm.querySelector('button[type="submit"]').disabled = others.length === 0;

  replace(
    parts.members,
    group.members.length === 0
      ? emptyState('Nobody in this group yet. Add someone below, or share the join link.')
      : h(
          'table',
          { class: 'table stacked members' },
          h('caption', { class: 'visually-hidden' }, `Members of ${group.name}`),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Name', 'Role', 'Joined', 'Actions'].map((label) =>
                h('th', { scope: 'col' }, label),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            group.members.map((member) =>
              h(
                'tr',
                { dataset: { userId: member.user_id, role: member.role } },
                h('td', { 'data-label': 'Name' }, member.username),
                h('td', { 'data-label': 'Role' }, ROLES[member.role] ?? member.role),
                h('td', { 'data-label': 'Joined' }, timeElement(member.joined_at)),
                h('td', { 'data-label': 'Actions', class: 'actions' }, removeCell(group, member)),
              ),
            ),
          ),
        ),
  );
}

/** "Remove", then the question with "Yes, remove" and "Keep": nobody is removed by a slip. */
function removeCell(group, member) {
  const cell = h('div', { class: 'member-actions' });
  const idle = () =>
    replace(
      cell,
      h(
        'button',
        {
          class: 'button danger small',
          type: 'button',
          'aria-label': `Remove ${member.username}`,
          onClick: ask,
        },
        'Remove',
      ),
    );
  const ask = () => {
    const keep = h(
      'button',
      {
        class: 'button subtle small',
        type: 'button',
        onClick: () => {
          idle();
          cell.querySelector('button').focus();
        },
      },
      'Keep',
    );
    replace(
      cell,
      h('span', { class: 'confirm-text' }, `Remove ${member.username} from ${group.name}?`),
      h(
        'button',
        {
          class: 'button danger small',
          type: 'button',
          onClick: (event) => removeMember(group, member, event.currentTarget),
        },
        'Yes, remove',
      ),
      keep,
    );
    keep.focus();
  };
  idle();
  return cell;
}

async function removeMember(group, member, button) {
  const removed = await withBusy(button, () =>
    api(`/groups/${group.id}/members/${member.user_id}`, { method: 'DELETE' }).then(() => true),
  );
  if (!removed) return;
  notify(`Removed ${member.username} from “${group.name}”; their tasks keep the group.`);
  state.onChange();
}

async function addMember(form) {
  const data = new FormData(form);
  const userId = Number(data.get('user_id'));
  if (!userId) return;
  const added = await withBusy(form.querySelector('button[type="submit"]'), () =>
    api(`/groups/${state.id}/members`, {
      method: 'POST',
      body: { user_id: userId, role: String(data.get('role')) },
    }),
  );
  if (!added) return;
  notify(`${added.username} is in the group now, as ${added.role}.`);
  state.onChange();
}

const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  timeZone: 'UTC',
});
/** A local day (`2025-12-01`) as "Mon 1 Dec 2025"; noon UTC is that day everywhere. */
const day = (iso) => dayFormat.format(new Date(`${iso}T12:00:00Z`));

async function loadBoard() {
  const id = state.id;
  const board = await api(
    `/groups/${id}/leaderboard${query({ period: state.period, limit: 100 })}`,
  );
  if (state.id !== id || !parts) return;
  parts.boardRange.textContent =
    board.first_day && board.last_day
      ? `${day(board.first_day)} to ${day(board.last_day)}, ${board.timezone}`
      : `Every proof so far, ${board.timezone}`;
  replace(
    parts.board,
    board.items.length === 0
      ? emptyState('Nobody to rank yet: add members.')
      : leaderboardTable(board.items, 'Members ranked by points earned in the period'),
  );
}

async function loadGroupFeed() {
  const id = state.id;
  const page = await api(
    `/feed${query({ group_id: id, limit: FEED_SIZE, offset: state.feedOffset })}`,
  );
  if (state.id !== id || !parts) return;
  replace(
    parts.feed,
    page.items.length === 0
      ? emptyState('No proofs in this group yet.')
      : page.items.map((post) => postCard(post)),
  );
  renderPager(
    parts.feedPager,
    page,
    (offset) => {
      state.feedOffset = offset;
      void loadGroupFeed().catch(showError);
    },
    'posts',
  );
}
