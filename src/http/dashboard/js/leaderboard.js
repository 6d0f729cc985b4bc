import { api } from './api.js';
import { emptyState, h, replace } from './dom.js';
import { loading, showError } from './ui.js';

export async function loadLeaderboard(section) {
  const list = section.querySelector('[data-list]');
  await loading(list, async () => {
    try {
      const { items } = await api('/leaderboard?limit=100');
      if (items.length === 0) {
        replace(list, emptyState('Nobody yet. Add people under “People and tasks”.'));
        return;
      }
      replace(
        list,
        h(
          'table',
          { class: 'table leaderboard' },
          h('caption', { class: 'visually-hidden' }, 'Users ranked by points'),
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
        ),
      );
    } catch (error) {
      showError(error);
    }
  });
}
