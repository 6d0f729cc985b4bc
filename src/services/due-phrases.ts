import * as chrono from 'chrono-node';
import { instantOf, wallTimeOf } from '../domain/local-time.js';

/**
 * `new <what> <when>`: the text people type, split into what they promise and when it is
 * due, read in their own time zone by chrono-node (a natural-language date parser; there is
 * no date grammar of our own here).
 *
 * chrono-node reads a phrase at one fixed UTC offset: the zone's offset at the moment the
 * message is read. A wall-clock phrase ("tomorrow 7am", "friday 18:00") is therefore taken
 * apart into its local date and time and turned into an instant with the zone's rules for
 * that date, so it stays 07:00 local across a daylight-saving change; a span ("in 2 hours")
 * or a phrase with its own zone ("7am CET") keeps chrono's instant, which is exact.
 */

export type DuePhrase =
  /** Something to do and a due time ahead. */
  | { outcome: 'due'; what: string; due: Date }
  /** No recognisable date or time in the text. */
  | { outcome: 'no_time'; what: string }
  /** A due time that has already passed. */
  | { outcome: 'past'; what: string; due: Date }
  /** A time, but nothing to do. */
  | { outcome: 'no_what' };

/** A date without a time of day ("tomorrow", "friday") is due at the end of that day. */
export const END_OF_DAY = { hour: 23, minute: 59 } as const;

/** Words left dangling once the time is cut out: "Pay rent by", "Call mom at". */
const danglingWords = /(?:^|\s)(?:by|at|on|before|until|till|due|for|from)$/i;

function describeTask(text: string, match: { index: number; text: string }): string {
  let what = `${text.slice(0, match.index)} ${text.slice(match.index + match.text.length)}`
    .replace(/\s+/g, ' ')
    .trim();
  for (;;) {
    const trimmed = what
      .replace(danglingWords, '')
      .replace(/[\s,;:–-]+$/, '')
      .trim();
    if (trimmed === what) return what;
    what = trimmed;
  }
}

/** Minutes `zone` is ahead of UTC at `instant`, as chrono-node takes a zone. */
function offsetMinutes(instant: Date, zone: string): number {
  const wall = wallTimeOf(instant, zone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  return Math.round((asUtc - Math.floor(instant.getTime() / 60_000) * 60_000) / 60_000);
}

/** A time of day chrono-node understood, even when it only implies the hour ("evening"). */
function hasTimeOfDay(start: chrono.ParsedComponents): boolean {
  if (start.isCertain('hour')) return true;
  const tags = start.tags();
  return tags.has('parser/ENCasualTimeParser') || tags.has('casualReference/tonight');
}

/**
 * Splits `text` ("Run 5k tomorrow 7am") into what and when, read at `now` in `zone`.
 * Phrases that name no year or week look forward ("friday" is the coming one, "7am" after
 * 07:00 is tomorrow's); a time that is still in the past ("yesterday", "today 7am" at
 * noon) is `past`.
 */
export function parseDuePhrase(text: string, at: { now: Date; zone: string }): DuePhrase {
  const reference = { instant: at.now, timezone: offsetMinutes(at.now, at.zone) };
  const match = chrono.parse(text, reference, { forwardDate: true })[0];
  if (!match) {
    const what = text.trim();
    return what ? { outcome: 'no_time', what } : { outcome: 'no_what' };
  }
  const what = describeTask(text, match);
  if (!what) return { outcome: 'no_what' };
  const { start } = match;
  let due: Date;
  if (start.isCertain('timezoneOffset') || start.tags().has('result/relativeDateAndTime')) {
    due = start.date();
  } else {
    const timeOfDay = hasTimeOfDay(start);
    due = instantOf(
      {
        year: start.get('year') ?? 1970,
        month: start.get('month') ?? 1,
        day: start.get('day') ?? 1,
        hour: timeOfDay ? (start.get('hour') ?? 0) : END_OF_DAY.hour,
        minute: timeOfDay ? (start.get('minute') ?? 0) : END_OF_DAY.minute,
      },
      at.zone,
    );
  }
  return due.getTime() <= at.now.getTime()
    ? { outcome: 'past', what, due }
    : { outcome: 'due', what, due };
}
