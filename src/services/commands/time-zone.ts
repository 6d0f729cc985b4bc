import { updateUser } from '../../db/users.js';
import { lookUpZone, personTimeZoneWithSource } from '../time-zones.js';
import { selfServiceTexts } from '../self-service-texts.js';
import type { Command } from './command.js';

/**
 * `tz <zone>`: the person's own time zone, an IANA name or a city that names one zone
 * (`tz Paris`); `tz` alone says which zone is theirs now and where it comes from.
 */
export const timeZoneCommand: Command = {
  name: 'tz',
  aliases: ['timezone'],
  usage: 'tz <zone or city>',
  summary: 'your time zone, e.g. "tz Europe/Paris" or "tz New York"',
  async run({ tx, user, now, defaultTimezone }, args) {
    if (!args) {
      const { zone, source } = personTimeZoneWithSource(user, defaultTimezone);
      return selfServiceTexts.zoneCurrent(zone, source);
    }
    const found = lookUpZone(args);
    if (found.outcome === 'unknown') return selfServiceTexts.zoneUnknown(args);
    if (found.outcome === 'ambiguous') {
      return selfServiceTexts.zoneAmbiguous(args, found.candidates);
    }
    // Setting the same zone twice (a re-processed message) changes nothing.
    await updateUser(tx, user.id, { timezone: found.zone });
    return selfServiceTexts.zoneSet(found.zone, now);
  },
};
