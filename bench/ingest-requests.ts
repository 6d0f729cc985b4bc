// The webhooks the load generator sends, built and signed before any clock starts:
// Twilio's WhatsApp form (the shape of test/helpers/twilio-webhook.ts), mostly new
// MessageSids, ~5% re-deliveries of earlier ones, ~20% with one or two photos and ~1%
// with a forged signature.
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { TEST_ACCOUNT_SID, whatsAppParams } from '../test/helpers/twilio-webhook.js';
import { seededRandom } from '../test/helpers/random.js';

export type RequestKind = 'unique' | 'duplicate' | 'forged';

export interface PreparedRequest {
  kind: RequestKind;
  sid: string;
  body: Buffer;
  headers: Record<string, string>;
}

export interface RequestMix {
  duplicate: number;
  media: number;
  forged: number;
}

export const defaultMix: RequestMix = { duplicate: 0.05, media: 0.2, forged: 0.01 };

const bodies = [
  'Done!',
  'Finished my 5k run this morning 🏃‍♀️',
  'Here is the proof',
  'Gym ✅',
  '',
  'Read 30 pages of "Thinking, Fast and Slow" & took notes',
  'Meditated for 10 min. Feeling good!',
  'Salut ! J’ai fini la tâche de ce matin.',
];

const hex = (value: number, width: number) => value.toString(16).padStart(width, '0');

/**
 * `count` signed requests for `url` (the URL the server validates, port included). Sids are
 * `SM`/`MM` + 32 hex characters, unique per `runTag`.
 */
export function prepareRequests(options: {
  url: string;
  authToken: string;
  count: number;
  seed: number;
  mix?: RequestMix;
}): PreparedRequest[] {
  const mix = options.mix ?? defaultMix;
  const next = seededRandom(options.seed);
  const runTag = hex(Math.floor(next() * 0xffffffff), 8);
  const requests: PreparedRequest[] = new Array(options.count);
  const uniques: number[] = [];
  let serial = 0;
  const newSid = (prefix: 'SM' | 'MM') => `${prefix}${runTag}${hex(serial++, 24)}`;
  const randomHex32 = () => hex(Math.floor(next() * 0xffffffff), 8).repeat(4);

  for (let index = 0; index < options.count; index += 1) {
    const roll = next();
    if (roll >= mix.forged && roll < mix.forged + mix.duplicate && uniques.length > 0) {
      // A re-delivery: byte for byte what Twilio sent before, usually well after the
      // original was answered, sometimes while it is still in flight.
      const lag = 1 + Math.floor(next() * 2000);
      const original = requests[uniques[Math.max(0, uniques.length - lag)] as number];
      if (original) {
        requests[index] = { ...original, kind: 'duplicate' };
        continue;
      }
    }
    const mediaCount = next() < mix.media ? 1 + Math.floor(next() * 2) : 0;
    const sid = newSid(mediaCount > 0 ? 'MM' : 'SM');
    const media = Array.from({ length: mediaCount }, () => ({
      url: `https://api.twilio.com/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Messages/${sid}/Media/ME${randomHex32()}`,
      contentType: next() < 0.8 ? 'image/jpeg' : 'image/png',
    }));
    // A few groups' worth of people (200), each sending many proofs.
    const member = Math.floor(next() * 200);
    const params = whatsAppParams({
      messageSid: sid,
      from: `+1555${String(1_000_000 + member).slice(1)}`,
      profileName: `Member ${member}`,
      body: bodies[Math.floor(next() * bodies.length)] ?? 'Done!',
      media,
    });
    const forged = roll < mix.forged;
    // A forgery: a well-formed signature made with the wrong key.
    const key = forged ? `not-${options.authToken}` : options.authToken;
    requests[index] = {
      kind: forged ? 'forged' : 'unique',
      sid,
      body: Buffer.from(new URLSearchParams(params).toString()),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': getExpectedTwilioSignature(key, options.url, params),
      },
    };
    if (!forged) uniques.push(index);
  }
  return requests;
}
