import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Queryable } from '../src/db/executor.js';
import { createLiveEvents, type LiveEvent, type LiveEvents } from '../src/services/live-events.js';
import { engines, postgresOnly, type TestDatabase } from './helpers/databases.js';
import { waitFor } from './helpers/worker.js';

// Identity values are taken at insert and committed in any order: an event whose
// transaction commits after a later one's must still reach the open streams, once.

for (const engine of engines) {
  describe(`live events committed out of order (${engine.name})`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let hub: LiveEvents;
    before(async () => {
      database = await engine.create();
      hub = createLiveEvents({ db: database.db });
    });
    after(async () => {
      await hub?.close();
      await database?.destroy();
    });

    test(
      'a late commit of an earlier id is delivered after the later one',
      { skip: postgresOnly(engine) },
      async () => {
        const seen: LiveEvent[] = [];
        const subscription = await hub.subscribeEvents(
          () => true,
          (event) => seen.push(event),
        );
        const addUser = (tx: Queryable, name: string, phone: string) =>
          tx.query<{ id: number }>(
            'INSERT INTO users (username, phone_number) VALUES ($1, $2) RETURNING id',
            [name, phone],
          );
        let releaseEarly!: () => void;
        const held = new Promise<void>((resolve) => (releaseEarly = resolve));
        let earlyInserted!: () => void;
        const inserted = new Promise<void>((resolve) => (earlyInserted = resolve));
        // The first transaction takes the lower event id and waits before it commits.
        const early = database.db.transaction(async (tx) => {
          const [row] = await addUser(tx, 'Early', '+15550220001');
          earlyInserted();
          await held;
          return row?.id;
        });
        await inserted;
        const [late] = await addUser(database.db, 'Late', '+15550220002');
        await waitFor(async () => seen.find((e) => e.kind === 'user' && e.row_id === late?.id));
        releaseEarly();
        const earlyId = await early;
        await waitFor(async () => seen.find((e) => e.kind === 'user' && e.row_id === earlyId));
        const ids = seen.map((e) => e.id);
        assert.equal(new Set(ids).size, ids.length, 'each event once');
        assert.ok(
          (seen.find((e) => e.row_id === earlyId)?.id ?? 0) <
            (seen.find((e) => e.row_id === late?.id)?.id ?? 0),
          'the late commit had the earlier id',
        );
        subscription.close();
      },
    );
  });
}

// With no stream open the hub stops reading (it only polls the table while somebody
// watches); a stream opened later starts from the newest event, not from where the last
// one left off.
for (const engine of engines) {
  describe(`live events after every stream closed (${engine.name})`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let hub: LiveEvents;
    before(async () => {
      database = await engine.create();
      hub = createLiveEvents({ db: database.db, pollMs: 20 });
    });
    after(async () => {
      await hub?.close();
      await database?.destroy();
    });

    const addUser = async (name: string, phone: string) =>
      Number(
        (
          await database.db.query<{ id: number }>(
            'INSERT INTO users (username, phone_number) VALUES ($1, $2) RETURNING id',
            [name, phone],
          )
        )[0]?.id,
      );

    test('a stream opened later gets the new events, not those made while nobody watched', async () => {
      const first: LiveEvent[] = [];
      const closed = await hub.subscribeEvents(
        () => true,
        (event) => first.push(event),
      );
      const seen = await addUser('Seen', '+15550230001');
      await waitFor(async () => first.find((e) => e.kind === 'user' && e.row_id === seen));
      closed.close();
      // Made while no stream is open, over many poll intervals (the hub's 20 ms). Each
      // insert lets the timers run: PGlite's queries can resolve without doing so.
      const unwatched: number[] = [];
      const since = performance.now();
      while (performance.now() - since < 200) {
        const n = String(unwatched.length).padStart(4, '0');
        unwatched.push(await addUser(`Unwatched ${n}`, `+1555024${n}`));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const second: LiveEvent[] = [];
      const open = await hub.subscribeEvents(
        () => true,
        (event) => second.push(event),
      );
      const fresh = await addUser('Fresh', '+15550230002');
      await waitFor(async () => second.find((e) => e.kind === 'user' && e.row_id === fresh));
      assert.deepEqual(
        second.filter((e) => e.kind === 'user' && unwatched.includes(e.row_id)),
        [],
        'nothing from before the stream opened',
      );
      open.close();
    });
  });
}
