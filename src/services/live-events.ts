import type { Queryable } from '../db/executor.js';
import { type LiveEvent, eventsAfter, latestEventId, pruneEvents } from '../db/live-events.js';

export type { LiveEvent, LiveKind } from '../db/live-events.js';

/** Which events a stream wants: the admin's everything, a participant's own and their groups'. */
export type LiveFilter = (event: LiveEvent) => boolean;

export interface LiveSubscription {
  /** Stops delivering; idempotent. */
  close(): void;
}

export interface LiveEvents {
  /**
   * Calls `listener` for every new event `filter` accepts, from now on. With `afterId`
   * (a browser's Last-Event-ID) it first replays the stored events after that id, so a
   * stream that dropped resumes without a gap; each event is delivered once.
   */
  subscribeEvents(
    filter: LiveFilter,
    listener: (event: LiveEvent) => void,
    afterId?: number | null,
  ): Promise<LiveSubscription>;
  /** Stops listening and polling; subscriptions end. */
  close(): Promise<void>;
}

export interface LiveEventsOptions {
  db: Queryable;
  /**
   * Reads the table this often while a stream is open (default 250 ms): how late an open
   * page sees a change made by any instance. One indexed read per interval for each
   * process, however many streams are open and however many changes were made.
   */
  pollMs?: number;
  /** How long events are kept for resuming streams (default one hour). */
  retainSeconds?: number;
}

/** A gap in the ids is waited for this long: a transaction that took an id may commit late. */
const GAP_WAIT_MS = 10_000;
/** At most this many missing ids are tracked; past that the oldest are given up. */
const MAX_GAPS = 2_000;
const BATCH = 500;
const REPLAY_LIMIT = 1_000;
const PRUNE_EVERY_MS = 5 * 60_000;

/**
 * One per process: reads the new rows of live_events (written by the triggers of
 * migration 0019) every `pollMs` while a stream is open, and fans them out to every open
 * stream. Polled, not announced: a NOTIFY in the transactions that write them would make
 * their commits wait for each other (migration 0025). Identity values are taken at insert
 * and committed in any order, so a missing id is remembered for a few seconds and picked
 * up if its transaction commits after a later one.
 */
export function createLiveEvents(options: LiveEventsOptions): LiveEvents {
  const { db } = options;
  const pollMs = options.pollMs ?? 250;
  const retainSeconds = options.retainSeconds ?? 3_600;
  const listeners = new Set<(event: LiveEvent) => void>();
  let started: Promise<void> | null = null;
  let closed = false;
  let cursor = 0;
  const gaps = new Map<number, number>();
  let reading: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  let lastPrune = Date.now();

  const lowerBound = (now: number): number => {
    let bound = cursor;
    for (const [id, since] of gaps) {
      if (now - since > GAP_WAIT_MS) gaps.delete(id);
      else if (id - 1 < bound) bound = id - 1;
    }
    return bound;
  };

  const readOnce = async (): Promise<void> => {
    for (;;) {
      const now = Date.now();
      const rows = await eventsAfter(db, lowerBound(now), BATCH);
      for (const event of rows) {
        if (event.id <= cursor) {
          if (!gaps.delete(event.id)) continue;
        } else {
          for (let id = cursor + 1; id < event.id && gaps.size < MAX_GAPS; id += 1) {
            gaps.set(id, now);
          }
          cursor = event.id;
        }
        for (const listener of listeners) listener(event);
      }
      if (rows.length < BATCH) break;
    }
    await pruneIfDue();
  };

  /** Forgets old events, at most once every PRUNE_EVERY_MS. */
  const pruneIfDue = async (): Promise<void> => {
    if (Date.now() - lastPrune <= PRUNE_EVERY_MS) return;
    lastPrune = Date.now();
    await pruneEvents(db, retainSeconds);
  };

  // With no stream open the poll reads nothing (only prunes now and then); the next stream
  // starts from the newest event (resync), as a stream of a fresh process does.
  let idle = false;
  const resync = async (): Promise<void> => {
    await reading;
    cursor = await latestEventId(db);
    gaps.clear();
    idle = false;
  };

  /** Coalesces wake-ups: one read at a time, one more if woken while reading. */
  const wake = (): void => {
    if (closed) return;
    if (listeners.size === 0) {
      idle = true;
      pruneIfDue().catch(() => {
        // The database is away; the next prune tries again.
      });
      return;
    }
    if (reading) {
      again = true;
      return;
    }
    reading = readOnce()
      .catch(() => {
        // The database is away; the next poll tries again.
      })
      .finally(() => {
        reading = null;
        if (again) {
          again = false;
          wake();
        }
      });
  };

  const start = async (): Promise<void> => {
    cursor = await latestEventId(db);
    timer = setInterval(wake, pollMs);
    timer.unref();
  };

  return {
    async subscribeEvents(filter, listener, afterId) {
      started ??= start();
      await started;
      if (idle && listeners.size === 0) await resync();
      const delivered = new Set<number>();
      let replaying = afterId !== undefined && afterId !== null;
      const held: LiveEvent[] = [];
      const deliver = (event: LiveEvent): void => {
        if (!filter(event) || delivered.has(event.id)) return;
        if (replaying) {
          held.push(event);
          return;
        }
        listener(event);
      };
      listeners.add(deliver);
      if (replaying) {
        try {
          for (const event of await eventsAfter(db, afterId as number, REPLAY_LIMIT)) {
            if (filter(event)) {
              delivered.add(event.id);
              listener(event);
            }
          }
        } finally {
          replaying = false;
          for (const event of held.splice(0)) deliver(event);
        }
      }
      return {
        close: () => {
          listeners.delete(deliver);
        },
      };
    },
    async close() {
      closed = true;
      listeners.clear();
      if (timer) clearInterval(timer);
      await started?.catch(() => undefined);
      await reading;
    },
  };
}
