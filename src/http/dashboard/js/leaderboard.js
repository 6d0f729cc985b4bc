import { api, query } from './api.js';
import { emptyState, h, replace } from './dom.js';
import { groupFilter } from './group-filter.js';
import { loading, showError } from './ui.js';

/** Ranked rows (GET /leaderboard's items) as a table; the Groups view shows one too. */
export function leaderboardTable(items, caption = 'Users ranked by points') {
  return h(
    'table',
    { class: 'table leaderboard' },
    h('caption', { class: 'visually-hidden' }, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Rank'),
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col', class: 'number' }, 'Points'),
        h('th', { scope: 'col', class: 'number' }, 'Streak'),
      ),
    ),
    h(
      'tbody',
      {},
      items.map((row) =>
        h(
          'tr',
          {
            dataset: { userId: row.user_id },
            class: row.rank <= 3 ? `top top-${row.rank}` : null,
          },
          h('td', { class: 'rank' }, h('span', { class: 'rank-badge' }, String(row.rank))),
          h('th', { scope: 'row' }, row.username),
          h('td', { class: 'number points' }, String(row.points)),
          // The longest current habit streak, and the best any habit reached.
          h(
            'td',
            {
              class: 'number streak',
              dataset: { current: row.current_streak ?? 0, best: row.best_streak ?? 0 },
            },
            row.best_streak ? `${row.current_streak} (best ${row.best_streak})` : '—',
          ),
        ),
      ),
    ),
  );
}

/** A "Period" select beside the group filter: all time (total points), this week or month. */
function periodFilter(section, onChange) {
  let select = section.querySelector('[data-period-filter]');
  if (!select) {
    select = h(
      'select',
      { id: 'leaderboard-period', dataset: { periodFilter: '' }, onChange },
      h('option', { value: '' }, 'All time'),
      h('option', { value: 'week' }, 'This week'),
      h('option', { value: 'month' }, 'This month'),
    );
    const head = section.querySelector('.view-head');
    head.insertBefore(
      h(
        'div',
        { class: 'field inline' },
        h('label', { for: 'leaderboard-period' }, 'Period'),
        select,
      ),
      head.querySelector('[data-refresh]'),
    );
  }
  return select.value;
}

export async function loadLeaderboard(section) {
  const list = section.querySelector('[data-list]');
  const reload = () => void loadLeaderboard(section);
  await loading(list, async () => {
    try {
      const period = periodFilter(section, reload);
      const groupId = await groupFilter(section, reload);
      // No group and all time: everybody by their total points, as before groups. A group
      // or a period: the points earned in it (a group's "all" is its members' proofs ever).
      const { items } = await api(
        `/leaderboard${query({
          limit: 100,
          group_id: groupId,
          period: groupId !== null && !period ? 'all' : period,
        })}`,
      );
      replace(
        list,
        items.length === 0
          ? emptyState(
              groupId === null
                ? 'Nobody yet. Add people under “People and tasks”.'
                : 'Nobody in this group yet. Add members under “Groups”.',
            )
          : leaderboardTable(items),
      );
    } catch (error) {
      showError(error);
    }
  });
}
