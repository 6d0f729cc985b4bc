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
