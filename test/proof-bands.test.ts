import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import {
  BANDED_MAX_DISTANCE,
  bandCandidates,
  dhashParam,
  type EarlierProof,
  findEarlierProof,
  type NearCopyScan,
  valuesWithinBits,
} from '../src/db/proofs.js';
import { hammingDistance } from '../src/media/fingerprint.js';
import { engines, type TestDatabase } from './helpers/databases.js';
import { HEX, hashes } from './helpers/hashes.js';

// Issue #14, item 4: near copies are found through 4 indexed 16-bit bands of the difference
// hash (0010_proof_dhash_bands.sql) instead of by reading every hash. The answers must be
// the full scan's, for every distance the configuration allows (PROOF_DUPLICATE_DISTANCE
// 0–64): the banded check above BANDED_MAX_DISTANCE is the full scan, and up to 15 it is
// compared with it here directly.

const binomial = (n: number, k: number): number =>
  k === 0 ? 1 : (binomial(n, k - 1) * (n - k + 1)) / k;

test('valuesWithinBits: every value within the radius, once', () => {
  for (const radius of [0, 1, 2, 3]) {
    const values = valuesWithinBits(0xbeef, 16, radius);
    let expected = 0;
    for (let i = 0; i <= radius; i += 1) expected += binomial(16, i);
    assert.equal(values.length, expected, `radius ${radius}`);
    assert.equal(new Set(values).size, expected, 'no value twice');
    for (const value of values) {
      assert.ok(value >= 0 && value <= 0xffff);
      assert.ok(hammingDistance(value.toString(16), 'beef') <= radius);
    }
  }
  assert.equal(valuesWithinBits(7, 16, 16).length, 65_536, 'the whole band at radius 16');
});

test('bandCandidates: a hash within d bits has some band among the candidates, d 0..64', () => {
  const { hash, flip, random } = hashes(1401);
  for (let d = 0; d <= 64; d += 1) {
    // Above 15 each band's candidates are thousands of values: fewer trials there.
    for (let trial = 0; trial < (d <= 15 ? 40 : 4); trial += 1) {
      const original = hash();
      const k = trial % 2 === 0 ? d : Math.floor(random() * (d + 1));
      const copy = flip(original, k, trial % 4 < 2);
      const candidates = bandCandidates(HEX(original), d);
      const found = candidates.some((values, band) =>
        new Set(values).has(Number((copy >> BigInt(16 * band)) & 0xffffn)),
      );
      assert.ok(found, `d ${d}, copy ${k} bits away: ${HEX(original)} / ${HEX(copy)}`);
    }
  }
});

for (const engine of engines) {
  describe(`near copies through the bands [${engine.name}]`, { skip: engine.skip }, () => {
    let t: TestDatabase;
    let userId = 0;
    const { hash, flip, random } = hashes(1402);
    /** The stored hashes, whose near copies the probes are. */
    const stored: bigint[] = [];

    const insert = async (dhash: bigint) => {
      await t.db.query(
        'INSERT INTO feed (user_id, proof_sha256, proof_dhash) VALUES ($1, $2, $3::bigint)',
        [userId, randomBytes(32).toString('hex'), dhashParam(HEX(dhash))],
      );
    };

    before(async () => {
      // Posts from before the band columns: the migration fills them in.
      t = await engine.create({ migrate: false });
      await migrate(
        t.db,
        loadMigrations().filter((m) => m.version < 10),
      );
      // Plain SQL: the users module speaks today's schema, this database is 0009's.
      const [user] = await t.db.query<{ id: number }>(
        `INSERT INTO users (username, phone_number) VALUES ('bands', '+15550001400') RETURNING id`,
      );
      userId = Number(user?.id);
      const sentinel = 0x8000_0000_0001_ffffn;
      await insert(sentinel);
      await migrate(t.db);
      const [row] = await t.db.query<{ bands: string }>(
        `SELECT concat_ws(',', proof_band0, proof_band1, proof_band2, proof_band3) AS bands
         FROM feed WHERE proof_dhash = $1::bigint`,
        [dhashParam(HEX(sentinel))],
      );
      assert.equal(row?.bands, '65535,1,0,32768', 'existing posts get their bands');

      // 400 unrelated hashes; near copies of some of them at 1..16 bits, spread over the
      // bands or not; the same hash posted twice (the lower id wins a tie); decoys that
      // share one band with a stored hash and are far away otherwise (band matches the
      // exact distance must turn down).
      const bases = Array.from({ length: 400 }, hash);
      for (const base of bases) stored.push(base);
      for (const [i, base] of bases.slice(0, 120).entries()) {
        stored.push(flip(base, 1 + (i % 16), i % 3 !== 0));
      }
      for (const base of bases.slice(120, 140)) stored.push(base);
      for (const [i, base] of bases.slice(140, 200).entries()) {
        const band = BigInt(16 * (i % 4));
        const mask = 0xffffn << band;
        stored.push((base & mask) | (hash() & ~mask));
      }
      for (const dhash of stored) await insert(dhash);
      await t.db.query('ANALYZE feed');
    });
    after(async () => {
      await t?.destroy();
    });

    const check = (dhash: bigint, maxDistance: number, scan: NearCopyScan) =>
      findEarlierProof(
        t.db,
        { sha256: randomBytes(32).toString('hex'), dhash: HEX(dhash) },
        { maxDistance, excludeMessageId: 0, scan },
      );
    const brief = (found: EarlierProof | null) =>
      found === null ? null : { feed_id: found.feed_id, distance: found.distance };

    /** Probes for distance d: stored hashes with 0..d+2 bits flipped, and unrelated ones. */
    const probes = (d: number) => {
      const out: bigint[] = [];
      for (let i = 0; i < 18; i += 1) {
        const base = stored[Math.floor(random() * stored.length)] as bigint;
        out.push(flip(base, Math.min(64, i % (d + 3)), i % 3 !== 0));
      }
      out.push(hash(), hash());
      return out;
    };

    test('banded and full scan give the same answer for every distance up to 15', async () => {
      let nearAtTheLimit = 0;
      let none = 0;
      for (let d = 1; d <= 15; d += 1) {
        for (const probe of probes(d)) {
          const full = brief(await check(probe, d, 'full'));
          const banded = brief(await check(probe, d, 'banded'));
          assert.deepEqual(banded, full, `d ${d}, probe ${HEX(probe)}`);
          if (full === null) none += 1;
          else if (full.distance === d) nearAtTheLimit += 1;
        }
      }
      // The comparison meant something: copies right at the threshold were found, and
      // probes with nothing within the distance found nothing either way.
      assert.ok(nearAtTheLimit >= 15, `${nearAtTheLimit} found at exactly d`);
      assert.ok(none >= 30, `${none} found nothing`);
    });

    test('the default way gives the full scan’s answer for every configurable distance', async () => {
      const distances = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 16, 24, 32, 64];
      assert.ok(distances.includes(BANDED_MAX_DISTANCE));
      for (const d of distances) {
        for (const probe of probes(d).slice(0, 12)) {
          assert.deepEqual(
            brief(await check(probe, d, 'auto')),
            brief(await check(probe, d, 'full')),
            `d ${d}, probe ${HEX(probe)}`,
          );
        }
      }
    });

    test('the exact bytes win through either way; a post without a hash has no bands', async () => {
      const [post] = await t.db.query<{ id: number; sha: string; dhash: string }>(
        `SELECT id, proof_sha256 AS sha, lpad(to_hex(proof_dhash), 16, '0') AS dhash
         FROM feed WHERE proof_dhash IS NOT NULL ORDER BY id DESC LIMIT 1`,
      );
      assert.ok(post);
      const other = HEX(flip(BigInt(`0x${post.dhash}`), 64, false));
      for (const scan of ['banded', 'full'] as const) {
        const found = await findEarlierProof(
          t.db,
          { sha256: post.sha, dhash: other },
          { maxDistance: 6, excludeMessageId: 0, scan },
        );
        assert.equal(found?.exact, true, scan);
        assert.equal(Number(found?.feed_id), Number(post.id), scan);
      }
      // A post without a difference hash (not an image) has no bands to be found by.
      await t.db.query(
        'INSERT INTO feed (user_id, proof_sha256, proof_dhash) VALUES ($1, $2, NULL)',
        [userId, randomBytes(32).toString('hex')],
      );
      const [nulls] = await t.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM feed WHERE proof_dhash IS NULL AND proof_band0 IS NULL',
      );
      assert.equal(nulls?.n, 1);
      const probe = stored[0] as bigint;
      assert.equal(
        (await check(probe, 6, 'banded'))?.distance,
        0,
        'an exact hash is distance 0 through the bands',
      );
    });
  });
}
