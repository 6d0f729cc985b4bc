// The message plan of `npm run bench:loop`, made before any clock starts and shared by
// the bench, the load generator and the fake Twilio (over IPC): per step, which messages
// leave when, from whom, and which carry a photo. One sender per message, each a user with
// an active task: a reply is identified by its `To` alone, so replies are counted per
// message exactly, and every message earns exactly one reply (a photo completes the
// sender's task, a text gets "your task is pending").
import { seededRandom } from '../test/helpers/random.js';

export type Arrivals = 'constant' | 'poisson';

export interface PlannedMessage {
  sid: string;
  /** E.164, the sender's (and user's) phone number; the reply goes to `whatsapp:<from>`. */
  from: string;
  /** Milliseconds after the step's start at which the webhook leaves. */
  at: number;
  /** Index into the fake's media list, or -1 for a text message. */
  media: number;
}

export interface PlannedStep {
  rate: number;
  /** A warm-up step: run and checked like the others, never counted as sustained. */
  warmup: boolean;
  seconds: number;
  messages: PlannedMessage[];
}

export interface Plan {
  steps: PlannedStep[];
  /** Every photo: its message's sid and the seed of its picture, in media-index order. */
  media: { messageSid: string; seed: number }[];
  /** Users to create (phone numbers `phoneOf(1..users)`), one per message. */
  users: number;
}

const hex = (value: number, width: number) => value.toString(16).padStart(width, '0');

/** `+1555` and seven digits: user n's number (n < 10,000,000). */
export const phoneOf = (n: number) => `+1555${String(n).padStart(7, '0')}`;

export function makePlan(options: {
  rates: number[];
  seconds: number;
  /** Seconds of a first step at the lowest rate (JIT, caches, pools), 0 for none. */
  warmupSeconds: number;
  photoShare: number;
  arrivals: Arrivals;
  seed: number;
}): Plan {
  const next = seededRandom(options.seed);
  const runTag = hex(Math.floor(next() * 0xffffffff), 8);
  let serial = 0;
  const media: Plan['media'] = [];
  const wanted = options.rates.map((rate) => ({ rate, seconds: options.seconds, warmup: false }));
  if (options.warmupSeconds > 0) {
    wanted.unshift({
      rate: Math.min(...options.rates),
      seconds: options.warmupSeconds,
      warmup: true,
    });
  }
  const steps = wanted.map(({ rate, seconds, warmup }) => {
    const count = Math.round(rate * seconds);
    const messages: PlannedMessage[] = [];
    let at = 0;
    for (let index = 0; index < count; index += 1) {
      // Poisson arrivals: exponential gaps of mean 1/rate; constant: exactly 1/rate apart.
      at =
        options.arrivals === 'poisson'
          ? at + (-Math.log(1 - next()) * 1000) / rate
          : (index * 1000) / rate;
      const photo = next() < options.photoShare;
      serial += 1;
      const sid = `${photo ? 'MM' : 'SM'}${runTag}${hex(serial, 24)}`;
      if (photo) media.push({ messageSid: sid, seed: options.seed * 1_000_003 + serial });
      messages.push({ sid, from: phoneOf(serial), at, media: photo ? media.length - 1 : -1 });
    }
    return { rate, seconds, warmup, messages };
  });
  return { steps, media, users: serial };
}

/** Where the reply to a message goes: back to the sender on WhatsApp. */
export const replyTo = (message: Pick<PlannedMessage, 'from'>) => `whatsapp:${message.from}`;
