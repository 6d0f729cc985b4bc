// "Groups": every group with its rules and size, a form to create one, and the group that is
// open (group-detail.js). The view is built once; reloads (Refresh, live changes) refill its
// lists and leave what is being typed alone.
import { api } from './api.js';
import { emptyState, h, replace } from './dom.js';
import { closeGroup, openGroup, openGroupId, refreshGroup } from './group-detail.js';
import { listGroups } from './group-filter.js';
import { readRules, REVIEW_NAMES, ruleFields, SHARE_NAMES, timezoneList } from './group-rules.js';
import { notify, showError, withBusy } from './ui.js';

function buildView(section) {
  const form = h(
    'form',
    { class: 'panel stack', 'aria-labelledby': 'group-form-title', dataset: { groupForm: '' } },
    h('h2', { id: 'group-form-title' }, 'Create a group'),
    ruleFields('group-new'),
    h('button', { class: 'button primary', type: 'submit' }, 'Create group'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const created = await withBusy(form.querySelector('button[type="submit"]'), () =>
      api('/groups', { method: 'POST', body: readRules(form) }),
    );
    if (!created) return;
    form.reset();
    notify(`Created “${created.name}”, invite code ${created.invite_code}.`);
    await loadGroups(section, { open: created.id });
  });
  section.append(
    timezoneList(),
    h(
      'div',
      { class: 'forms groups-top' },
      h(
        'section',
        { class: 'subsection', 'aria-labelledby': 'group-list-title' },
        h('h2', { id: 'group-list-title' }, 'All groups'),
        h('div', { dataset: { groupList: '' }, 'aria-busy': 'false' }),
      ),
      form,
    ),
    h('div', { dataset: { groupDetail: '' } }),
  );
}

function groupTable(section, groups) {
  const open = openGroupId();
  const columns = ['Name', 'Time zone', 'Review', 'Share', 'Members'];
  return h(
    'table',
    { class: 'table stacked group-table' },
    h('caption', { class: 'visually-hidden' }, 'Groups'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((label) =>
          h('th', { scope: 'col', class: label === 'Members' ? 'number' : null }, label),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      groups.map((group) =>
        h(
          'tr',
          {
            dataset: { groupId: group.id },
            class: group.id === open ? 'is-open' : null,
          },
          h(
            'td',
            { 'data-label': 'Name' },
            h(
              'button',
              {
                class: 'link-button',
                type: 'button',
                'aria-expanded': String(group.id === open),
                onClick: () => void loadGroups(section, { open: group.id }),
              },
              group.name,
            ),
            group.is_default ? h('span', { class: 'badge' }, 'default') : null,
          ),
          h('td', { 'data-label': 'Time zone' }, group.timezone ?? 'TZ default'),
          h('td', { 'data-label': 'Review' }, REVIEW_NAMES[group.review] ?? group.review),
          h('td', { 'data-label': 'Share' }, SHARE_NAMES[group.share] ?? group.share),
          h('td', { 'data-label': 'Members', class: 'number' }, String(group.member_count)),
        ),
      ),
    ),
  );
}

/**
 * Loads the groups and refreshes the open one. `open`: a group to open (a click on its
 * name, a new group), brought into sight with the focus on its name.
 */
export async function loadGroups(section, { open } = {}) {
  if (!section.querySelector('[data-group-list]')) buildView(section);
  const listBox = section.querySelector('[data-group-list]');
  const detail = section.querySelector('[data-group-detail]');
  listBox.setAttribute('aria-busy', 'true');
  try {
    const groups = await listGroups({ fresh: true });
    const wanted = open ?? openGroupId();
    if (wanted !== null && !groups.some((group) => group.id === wanted)) closeGroup(detail);
    const onChange = () => void loadGroups(section);
    if (open !== undefined) {
      await openGroup(detail, open, onChange);
    } else if (openGroupId() !== null) {
      await refreshGroup(detail);
    }
    replace(
      listBox,
      groups.length === 0
        ? emptyState('No groups yet. Create the first one here.')
        : groupTable(section, groups),
    );
  } catch (error) {
    showError(error);
  } finally {
    listBox.setAttribute('aria-busy', 'false');
  }
}
