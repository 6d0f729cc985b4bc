import type { Queryable } from '../db/executor.js';
import { type PeriodPointsRow, leaderboardGroup, pointsInPeriod } from '../db/leaderboards.js';
import { notFound } from '../domain/errors.js';
import {
  type LocalDate,
  addDays,
  localDateOf,
  parseLocalDate,
  startOfLocalDay,
  weekStartOf,
} from '../domain/local-time.js';
import { streaksOfUsers } from './habits.js';

export const leaderboardPeriods = ['week', 'month', 'all'] as const;
export type LeaderboardPeriod = (typeof leaderboardPeriods)[number];

/** Where a period starts and ends, as instants and as the local dates they show. */
export interface PeriodBounds {
  period: LeaderboardPeriod;
  timezone: string;
  /** null for `all`. */
  from: Date | null;
  to: Date;
  /** The first local day of the period (null for `all`). */
  first_day: LocalDate | null;
  /** The last local day of the period (null for `all`). */
  last_day: LocalDate | null;
}

/**
 * The period `now` is in, in `zone`: a week runs Monday 00:00 to the next Monday 00:00
 * local time (so a Sunday-evening proof in Tokyo and a Monday-morning one in New York fall
 * in different weeks for groups in those zones even at the same instant), a month from its
 * first day; `all` from the beginning to `now`.
 */
export function periodBounds(period: LeaderboardPeriod, zone: string, now: Date): PeriodBounds {
  if (period === 'all') {
    return { period, timezone: zone, from: null, to: now, first_day: null, last_day: null };
  }
  const today = localDateOf(now, zone);
  let first: LocalDate;
  let next: LocalDate;
  if (period === 'week') {
    first = weekStartOf(today);
    next = addDays(first, 7);
  } else {
    const { year, month } = parseLocalDate(today);
    first = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-01`;
    next =
      month === 12
        ? `${String(year + 1).padStart(4, '0')}-01-01`
        : `${String(year).padStart(4, '0')}-${String(month + 1).padStart(2, '0')}-01`;
  }
  return {
    period,
    timezone: zone,
    from: startOfLocalDay(first, zone),
    to: startOfLocalDay(next, zone),
    first_day: first,
    last_day: addDays(next, -1),
  };
}

export interface PeriodLeaderboardEntry extends PeriodPointsRow {
  rank: number;
  current_streak: number;
  best_streak: number;
}

export interface PeriodLeaderboard extends PeriodBounds {
  group_id: number | null;
  items: PeriodLeaderboardEntry[];
}

/** Ranks rows sorted by points: equal points share a rank and the next skips (1, 1, 3). */
const ranked = <T extends { points: number }>(rows: readonly T[]): (T & { rank: number })[] =>
  rows.map((row, index) => {
    const firstEqual = rows.findIndex((other) => other.points === row.points);
    return { ...row, rank: (firstEqual === -1 ? index : firstEqual) + 1 };
  });

/**
 * The leaderboard of a group (its members, its zone) or, with `groupId` null, of everybody
 * in the deployment's zone, for the period `now` is in: points earned in it, with streaks.
 */
export async function periodLeaderboard(
  db: Queryable,
  query: {
    groupId: number | null;
    period: LeaderboardPeriod;
    limit: number;
    defaultTimezone: string;
    now: Date;
  },
): Promise<PeriodLeaderboard> {
  let zone = query.defaultTimezone;
  if (query.groupId !== null) {
    const group = await leaderboardGroup(db, query.groupId);
    if (!group) throw notFound(`No group with id ${query.groupId}.`);
    zone = group.timezone ?? query.defaultTimezone;
  }
  const bounds = periodBounds(query.period, zone, query.now);
  const rows = await pointsInPeriod(db, {
    groupId: query.groupId,
    from: bounds.from,
    to: bounds.to,
    limit: query.limit,
  });
  const streaks = await streaksOfUsers(
    db,
    rows.map((row) => row.user_id),
  );
  return {
    ...bounds,
    group_id: query.groupId,
    items: ranked(rows).map((row) => {
      const { current, best } = streaks.get(row.user_id) ?? { current: 0, best: 0 };
      return { ...row, current_streak: current, best_streak: best };
    }),
  };
}
