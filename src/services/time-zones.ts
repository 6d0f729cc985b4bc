import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { parseTimezone } from '../domain/user.js';
import type { UserRow } from '../domain/user.js';

/**
 * Whose clock a person's due times are read and shown on: their own `timezone` (set with
 * `tz` or by an admin), else the one zone of their phone number's country, else TZ.
 */

/** The zones of an ISO 3166 country, from the runtime's ICU data (CLDR), alphabetical. */
function zonesOfCountry(country: string): string[] {
  try {
    // Node 20–22 have the `timeZones` getter; newer V8 replaces it with getTimeZones().
    const locale = new Intl.Locale(`und-${country}`) as Intl.Locale & {
      timeZones?: string[];
      getTimeZones?: () => string[] | undefined;
    };
    return locale.getTimeZones?.() ?? locale.timeZones ?? [];
  } catch {
    return [];
  }
}

/** Offsets (minutes ahead of UTC) `zone` shows through `year`, sampled twice a month. */
function offsetsThroughYear(zone: string, year: number): string {
  const format = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  const samples: string[] = [];
  for (let month = 0; month < 12; month += 1) {
    for (const day of [1, 15]) {
      const instant = new Date(Date.UTC(year, month, day, 12));
      samples.push(
        format.formatToParts(instant).find((part) => part.type === 'timeZoneName')?.value ?? '',
      );
    }
  }
  return samples.join(',');
}

const singleZoneByCountry = new Map<string, string | null>();

/**
 * The zone of a country whose clocks all agree: Germany's Berlin and Büsingen keep the same
 * time, so Germany has one; Spain (Canary Islands) and the United States do not. Null when
 * the country's zones differ or it has none. Cached: ICU data does not change while running.
 */
export function singleZoneOfCountry(country: string, now: Date = new Date()): string | null {
  const cached = singleZoneByCountry.get(country);
  if (cached !== undefined) return cached;
  const zones = zonesOfCountry(country);
  let zone: string | null = zones[0] ?? null;
  if (zone && zones.length > 1) {
    const year = now.getUTCFullYear();
    const offsets = offsetsThroughYear(zone, year);
    if (zones.some((other) => offsetsThroughYear(other, year) !== offsets)) zone = null;
  }
  singleZoneByCountry.set(country, zone);
  return zone;
}

/** The zone a phone number's country implies, when that country keeps one time. */
export function zoneOfPhoneNumber(phoneNumber: string | null): string | null {
  if (!phoneNumber) return null;
  // Parsing the number is most of a text reply's time-zone cost (bench:loop profile); the
  // answer never changes, so it is kept, in memory only, for a bounded number of senders.
  const known = zoneOfNumber.get(phoneNumber);
  if (known !== undefined) return known;
  const country = parsePhoneNumberFromString(phoneNumber)?.country;
  const zone = country ? singleZoneOfCountry(country) : null;
  if (zoneOfNumber.size >= ZONE_CACHE_SIZE) zoneOfNumber.clear();
  zoneOfNumber.set(phoneNumber, zone);
  return zone;
}

const ZONE_CACHE_SIZE = 10_000;
const zoneOfNumber = new Map<string, string | null>();

/** Where a person's zone comes from, for `tz` without arguments. */
export type ZoneSource = 'set' | 'phone' | 'default';

export function personTimeZoneWithSource(
  user: Pick<UserRow, 'timezone' | 'phone_number'>,
  defaultTimezone: string | null | undefined,
): { zone: string; source: ZoneSource } {
  if (user.timezone) return { zone: user.timezone, source: 'set' };
  const inferred = zoneOfPhoneNumber(user.phone_number);
  if (inferred) return { zone: inferred, source: 'phone' };
  return { zone: defaultTimezone || 'UTC', source: 'default' };
}

/**
 * A person's IANA time zone: their own, else their phone number's country's when it has
 * one, else `defaultTimezone` (TZ), else UTC.
 */
export const personTimeZone = (
  user: Pick<UserRow, 'timezone' | 'phone_number'>,
  defaultTimezone: string | null | undefined,
): string => personTimeZoneWithSource(user, defaultTimezone).zone;

/** Continents and oceans of IANA names: `Kolkata` is tried as `Asia/Kolkata` and so on. */
const areas = [
  'Africa',
  'America',
  'Antarctica',
  'Asia',
  'Atlantic',
  'Australia',
  'Europe',
  'Indian',
  'Pacific',
];

const cityKey = (text: string) =>
  text
    .normalize('NFD')
    .replace(/\p{M}/gu, '') // São Paulo → Sao Paulo
    .toLowerCase()
    .replace(/[_\s]+/g, ' ')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .trim();

function isZone(name: string): boolean {
  try {
    parseTimezone(name);
    return true;
  } catch {
    return false;
  }
}

export type ZoneLookup =
  | { outcome: 'found'; zone: string }
  | { outcome: 'ambiguous'; candidates: string[] }
  | { outcome: 'unknown' };

/**
 * What a person typed after `tz`: an IANA name in any case (`europe/paris`, `UTC`), or a
 * city that names one zone (`Paris`, `new york`, `Sao_Paulo`), matched on the last part of
 * the runtime's zone names (`Intl.supportedValuesOf`) and on `<area>/<City>` names the
 * runtime accepts but does not list (`Kolkata`, `Kyiv`: it lists the older spellings).
 */
export function lookUpZone(input: string): ZoneLookup {
  const text = input.trim();
  if (!text) return { outcome: 'unknown' };
  const listed = Intl.supportedValuesOf('timeZone');
  const exact = [...listed, 'UTC'].find((zone) => zone.toLowerCase() === text.toLowerCase());
  if (exact) return { outcome: 'found', zone: exact };
  if (text.includes('/')) {
    const spelled = text
      .split('/')
      .map((part) => part.replace(/\s+/g, '_').replace(/(^|[_-])(\p{L})/gu, (m) => m.toUpperCase()))
      .join('/');
    return isZone(spelled) ? { outcome: 'found', zone: spelled } : { outcome: 'unknown' };
  }
  const key = cityKey(text);
  if (!key) return { outcome: 'unknown' };
  const byCity = listed.filter((zone) => cityKey(zone.split('/').pop() ?? '') === key);
  if (byCity.length === 1) return { outcome: 'found', zone: byCity[0] as string };
  if (byCity.length > 1) return { outcome: 'ambiguous', candidates: byCity };
  const city = key
    .split(/([ -])/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('')
    .replace(/ /g, '_');
  const unlisted = areas.map((area) => `${area}/${city}`).filter(isZone);
  if (unlisted.length === 1) return { outcome: 'found', zone: unlisted[0] as string };
  if (unlisted.length > 1) return { outcome: 'ambiguous', candidates: unlisted };
  return { outcome: 'unknown' };
}
