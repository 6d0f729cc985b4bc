// The groups as the other views need them: their names (a review names its group by id) and
// a "Group" select that narrows the Feed, the Leaderboard and the Reviews to one group.
import { api } from './api.js';
import { h, replace } from './dom.js';

let groups = null;

/**
 * The groups (up to 100, the default first). Kept for the session: the Groups view reloads
 * them with `fresh` whenever it shows or changes one, so a new group appears everywhere.
 */
export async function listGroups({ fresh = false } = {}) {
  if (fresh || groups === null) groups = (await api('/groups?limit=100')).items;
  return groups;
}

/** A group's name, or "group 7" for one this page has not seen. */
export const groupName = (id) =>
  groups?.find((group) => group.id === id)?.name ?? (id === null ? '—' : `group ${id}`);

/**
 * Puts a "Group" select into the view's head (once) and fills it; resolves to the group
 * chosen, or null for all of them. Hidden while there is only one group: a deployment that
 * never made a second one sees its views as before.
 */
export async function groupFilter(section, onChange) {
  let select = section.querySelector('[data-group-filter]');
  if (!select) {
    const id = `${section.id}-group`;
    select = h('select', { id, dataset: { groupFilter: '' }, onChange });
    const field = h(
      'div',
      { class: 'field inline group-filter' },
      h('label', { for: id }, 'Group'),
      select,
    );
    const head = section.querySelector('.view-head');
    head.insertBefore(field, head.querySelector('[data-refresh]'));
  }
  const list = await listGroups();
  const chosen = select.value;
  replace(
    select,
    h('option', { value: '' }, 'All groups'),
    list.map((group) => h('option', { value: group.id }, group.name)),
  );
  if (list.some((group) => String(group.id) === chosen)) select.value = chosen;
  select.closest('.field').hidden = list.length < 2;
  return select.value ? Number(select.value) : null;
}
