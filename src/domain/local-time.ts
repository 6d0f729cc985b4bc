/**
 * Wall-clock dates and times in an IANA zone, with Intl only. Habits are due at a local time
 * ("07:00 in Europe/Paris"), which is a different UTC instant on either side of a
 * daylight-saving change, so their dates are computed as local dates and each local time is
 * turned into an instant here.
 */

/** A local calendar date, `YYYY-MM-DD`. */
export type LocalDate = string;

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, format);
  }
  return format;
}

/** The wall-clock time `instant` shows in `zone` (seconds dropped). */
export function wallTimeOf(instant: Date, zone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 1970,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
  };
}

/** Minutes `zone` is ahead of UTC at `instant`. */
function offsetMinutes(instant: Date, zone: string): number {
  const wall = wallTimeOf(instant, zone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  return Math.round((asUtc - Math.floor(instant.getTime() / 60_000) * 60_000) / 60_000);
}

/**
 * The instant a wall-clock time happens in `zone`. A time that does not exist (skipped when
 * clocks go forward, 02:30 on the spring change) is moved forward by the gap, as calendars
 * do; a time that happens twice (clocks going back) is the first of the two.
 */
export function instantOf(wall: WallTime, zone: string): Date {
  const guess = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  const before = offsetMinutes(new Date(guess - 36 * 3_600_000), zone);
  const after = offsetMinutes(new Date(guess + 36 * 3_600_000), zone);
  // Try the earlier offset first (the larger one when clocks go back), then the later.
  for (const offset of before >= after ? [before, after] : [after, before]) {
    const candidate = new Date(guess - offset * 60_000);
    const seen = wallTimeOf(candidate, zone);
    if (seen.day === wall.day && seen.hour === wall.hour && seen.minute === wall.minute) {
      return candidate;
    }
  }
  // In the gap: the offset from before the change puts it that far past the gap's start.
  return new Date(guess - before * 60_000);
}

export const localDateOf = (instant: Date, zone: string): LocalDate =>
  formatLocalDate(wallTimeOf(instant, zone));

export function formatLocalDate(wall: Pick<WallTime, 'year' | 'month' | 'day'>): LocalDate {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${String(wall.year).padStart(4, '0')}-${pad(wall.month)}-${pad(wall.day)}`;
}

export function parseLocalDate(date: LocalDate): { year: number; month: number; day: number } {
  const [year, month, day] = date.split('-').map(Number);
  return { year: year ?? 1970, month: month ?? 1, day: day ?? 1 };
}

/** `date` plus `days` calendar days. */
export function addDays(date: LocalDate, days: number): LocalDate {
  const { year, month, day } = parseLocalDate(date);
  const next = new Date(Date.UTC(year, month - 1, day + days));
  return next.toISOString().slice(0, 10);
}

/** Calendar days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: LocalDate, to: LocalDate): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** The Monday of the ISO week `date` is in: a person's week runs Monday to Sunday. */
export function weekStartOf(date: LocalDate): LocalDate {
  const weekday = new Date(`${date}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  return addDays(date, -((weekday + 6) % 7));
}

/** The instant local `date` starts (its first minute) in `zone`. */
export const startOfLocalDay = (date: LocalDate, zone: string): Date =>
  instantOf({ ...parseLocalDate(date), hour: 0, minute: 0 }, zone);
