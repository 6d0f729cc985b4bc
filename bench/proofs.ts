// npm run bench:proofs — the near-copy proof check (findEarlierProof, src/db/proofs.ts)
// with --posts earlier posts on Postgres, through the band indexes and by the full scan:
//   1. seeds the posts into a fresh database migrated up to 0009 (INSERT … SELECT
//      generate_series, random 64-bit hashes, every 1000th post followed by a near copy of
//      itself), then times migration 0010 (band columns + indexes, backfilled);
//   2. per distance and way: findEarlierProof latency p50/p99 over probes that are near
//      copies of stored posts (1..d+1 bits away) or unrelated hashes, one at a time, and
//      whether both ways gave the same answer on every probe;
//   3. the serialised part of a proof at the default distance: --concurrency clients for
//      --seconds, each transaction taking the near-copy lock, checking and posting, as the
//      accountability loop does; transactions/s is the ceiling on proofs/s that lock sets
//      (and, for comparison, the banded check and post without the lock).
// Flags: --posts N (default 1000000), --probes N (default 400; the full scan gets a
// quarter), --seconds N (default 10), --concurrency N (default 8), --distances 3,6,11,
// --explain (print both queries' plans at d = 6).
// BENCH_DATABASE_URL as for bench:ingest (default postgres://postgres@127.0.0.1:5432/postgres).
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Database, Queryable } from '../src/db/executor.js';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import { openPostgres } from '../src/db/postgres.js';
import {
  BANDED_MAX_DISTANCE,
  bandCandidates,
  dhashParam,
  type EarlierProof,
  findEarlierProof,
  lockNearCopyChecks,
  nearCopyLocks,
  type NearCopyScan,
} from '../src/db/proofs.js';
import { seededRandom } from '../test/helpers/random.js';
import { createDatabase } from './ingest-db.js';
import { runCleanups } from './ingest-processes.js';

const { values } = parseArgs({
  options: {
    posts: { type: 'string', default: '1000000' },
    probes: { type: 'string', default: '400' },
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '8' },
    distances: { type: 'string', default: '3,6,11' },
    explain: { type: 'boolean', default: false },
  },
});
const posts = Number(values.posts);
const probeCount = Number(values.probes);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const distances = values.distances.split(',').map(Number);

const random = seededRandom(1403);
const HEX = (n: bigint) => n.toString(16).padStart(16, '0');
const word = () => BigInt(Math.floor(random() * 2 ** 32));
const randomHash = () => (word() << 32n) | word();
const flipBits = (hash: bigint, k: number): bigint => {
  const bits = new Set<number>();
  while (bits.size < k) bits.add(Math.floor(random() * 64));
  let out = hash;
  for (const bit of bits) out ^= 1n << BigInt(bit);
  return out;
};
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1);
const since = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

async function seed(db: Database): Promise<number> {
  const [user] = await db.query<{ id: number }>(
    `INSERT INTO users (username, phone_number) VALUES ('bench', '+15550001403') RETURNING id`,
  );
  const userId = Number(user?.id);
  const chunk = 250_000;
  const start = process.hrtime.bigint();
  for (let from = 1; from <= posts; from += chunk) {
    const to = Math.min(posts, from + chunk - 1);
    // Two 32-bit random halves make a uniformly random 64-bit hash; sha256 stand-ins are
    // unique 64-hex-digit texts (the unique index on them is part of what is measured).
    await db.query(
      `INSERT INTO feed (user_id, proof_sha256, proof_dhash, created_at)
       SELECT $1, md5(i::text) || md5((-i)::text),
              (((random() * 4294967295)::bigint) << 32) | (random() * 4294967295)::bigint,
              now() - make_interval(secs => $3::int - i)
       FROM generate_series($2::int, $3::int) AS i`,
      [userId, from, to],
    );
    process.stdout.write(`\r  seeded ${to.toLocaleString('en')} posts`);
  }
  // Near copies already in the history: every 1000th post gets a twin 2 bits away.
  await db.query(
    `INSERT INTO feed (user_id, proof_sha256, proof_dhash)
     SELECT user_id, md5(proof_sha256) || md5(id::text),
            proof_dhash # (1::bigint << (id % 31)::int) # (1::bigint << (33 + id % 30)::int)
     FROM feed WHERE id % 1000 = 0`,
  );
  console.log(` in ${(since(start) / 1000).toFixed(1)} s`);
  return userId;
}

/** Probes: near copies of stored posts, 1..d+1 bits away (half), and unrelated hashes. */
async function probes(db: Database, d: number, count: number): Promise<string[]> {
  const rows = await db.query<{ hex: string }>(
    `SELECT lpad(to_hex(proof_dhash), 16, '0') AS hex FROM feed
     WHERE id IN (SELECT (1 + floor(random() * $1::int))::bigint FROM generate_series(1, $2::int))`,
    [posts, count],
  );
  return rows.map((row, i) =>
    HEX(i % 2 === 0 ? flipBits(BigInt(`0x${row.hex}`), 1 + (i % (d + 1))) : randomHash()),
  );
}

const answer = (found: EarlierProof | null) =>
  found === null ? 'none' : `${found.feed_id}/${found.distance}`;

async function timeChecks(db: Database, hashes: string[], d: number, scan: NearCopyScan) {
  const latencies: number[] = [];
  const answers: string[] = [];
  for (const dhash of hashes) {
    const start = process.hrtime.bigint();
    const found = await findEarlierProof(
      db,
      { sha256: randomBytes(32).toString('hex'), dhash },
      { maxDistance: d, excludeMessageId: 0, scan },
    );
    latencies.push(since(start));
    answers.push(answer(found));
  }
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), answers };
}

/** How many posts share a band value with the probe's candidates: what the banded check reads. */
async function candidatesRead(db: Database, hashes: string[], d: number): Promise<number> {
  let total = 0;
  for (const dhash of hashes) {
    const bands = bandCandidates(dhash, d);
    const [row] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM feed
       WHERE proof_band0 = ANY($1::int[]) OR proof_band1 = ANY($2::int[])
          OR proof_band2 = ANY($3::int[]) OR proof_band3 = ANY($4::int[])`,
      bands,
    );
    total += row?.n ?? 0;
  }
  return total / hashes.length;
}

/** Prints the plan findEarlierProof's query gets, with timings and buffers. */
async function explain(db: Database, dhash: string, d: number, scan: NearCopyScan) {
  const explaining: Queryable = {
    exec: (sql) => db.exec(sql),
    async query<Row>(sql: string, params?: readonly unknown[]) {
      const plan = await db.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`,
        params,
      );
      console.log(plan.map((line) => `    ${line['QUERY PLAN']}`).join('\n'));
      return [] as Row[];
    },
  };
  await findEarlierProof(
    explaining,
    { sha256: randomBytes(32).toString('hex'), dhash },
    { maxDistance: d, excludeMessageId: 0, scan },
  );
}

/** Lock, check, post: the serialised part of every proof, from `concurrency` clients. */
async function sustained(db: Database, userId: number, d: number, scan: NearCopyScan, lock = true) {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  let rejected = 0;
  const client = async () => {
    while (Date.now() < deadline) {
      const dhash = HEX(randomHash());
      const sha256 = randomBytes(32).toString('hex');
      await db.transaction(async (tx) => {
        if (lock) await lockNearCopyChecks(tx, nearCopyLocks(dhash, d));
        const earlier = await findEarlierProof(
          tx,
          { sha256, dhash },
          { maxDistance: d, excludeMessageId: 0, scan },
        );
        if (earlier) rejected += 1;
        else {
          await tx.query(
            'INSERT INTO feed (user_id, proof_sha256, proof_dhash) VALUES ($1, $2, $3::bigint)',
            [userId, sha256, dhashParam(dhash)],
          );
        }
      });
      done += 1;
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, client));
  return { perSecond: done / (since(start) / 1000), done, rejected };
}

async function main() {
  const bench = await createDatabase('proofs');
  const db = await openPostgres({ connectionString: bench.url, poolSize: concurrency + 2 });
  try {
    const [version] = await db.query<{ server_version: string }>('SHOW server_version');
    console.log(
      `Postgres ${version?.server_version}, ${posts.toLocaleString('en')} posts, database ${bench.name}`,
    );
    const migrations = loadMigrations();
    await migrate(
      db,
      migrations.filter((m) => m.version < 10),
    );
    const userId = await seed(db);
    let start = process.hrtime.bigint();
    await migrate(db, migrations);
    console.log(
      `migration 0010 (band columns + 4 indexes, backfill): ${(since(start) / 1000).toFixed(1)} s`,
    );
    start = process.hrtime.bigint();
    await db.exec('VACUUM ANALYZE feed');
    console.log(`VACUUM ANALYZE feed: ${(since(start) / 1000).toFixed(1)} s`);
    const [sizes] = await db.query<{ bands: string; dhash: string; heap: string }>(
      `SELECT pg_size_pretty(sum(pg_relation_size(c.oid)) FILTER (WHERE c.relname LIKE 'feed_proof_band%')) AS bands,
              pg_size_pretty(sum(pg_relation_size(c.oid)) FILTER (WHERE c.relname = 'feed_proof_dhash')) AS dhash,
              pg_size_pretty(pg_relation_size('feed')) AS heap
       FROM pg_class c WHERE c.relname LIKE 'feed%'`,
    );
    console.log(
      `sizes: feed ${sizes?.heap}, band indexes ${sizes?.bands}, feed_proof_dhash ${sizes?.dhash}`,
    );

    console.log('\n| d | way | probes | p50 ms | p99 ms | same answers as full scan |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const d of distances) {
      const hashes = await probes(db, d, probeCount);
      const fullHashes = hashes.slice(0, Math.max(20, Math.floor(hashes.length / 4)));
      // Warm both ways' pages first, so neither pays for the other's cold cache.
      await timeChecks(db, hashes.slice(0, 10), d, 'banded');
      await timeChecks(db, hashes.slice(0, 3), d, 'full');
      const banded = await timeChecks(db, hashes, d, 'banded');
      const full = await timeChecks(db, fullHashes, d, 'full');
      const same = fullHashes.every((_, i) => banded.answers[i] === full.answers[i]);
      const found = full.answers.filter((a) => a !== 'none').length;
      let note = `${same ? 'yes' : 'NO'} (${fullHashes.length} compared, ${found} found a copy)`;
      const read = await candidatesRead(db, hashes.slice(0, 50), d);
      note += `; banded reads ${read.toFixed(0)} posts a check, the full scan all`;
      const way = d <= BANDED_MAX_DISTANCE ? 'banded (default)' : 'banded (forced)';
      console.log(
        `| ${d} | ${way} | ${hashes.length} | ${ms(banded.p50)} | ${ms(banded.p99)} | ${note} |`,
      );
      console.log(
        `| ${d} | full scan | ${fullHashes.length} | ${ms(full.p50)} | ${ms(full.p99)} | |`,
      );
    }

    if (values.explain) {
      const [probe] = await probes(db, 6, 2);
      for (const scan of ['banded', 'full'] as const) {
        console.log(`\nEXPLAIN ANALYZE, d = 6, ${scan}:`);
        await explain(db, probe as string, 6, scan);
      }
    }

    console.log(`\nlock + check + post, d = 6, ${concurrency} clients, ${seconds} s:`);
    const ways = [
      ['banded', true],
      ['full', true],
      ['banded', false],
    ] as const;
    for (const [scan, lock] of ways) {
      const run = await sustained(db, userId, 6, scan, lock);
      console.log(
        `  ${scan}${lock ? '' : ', without the lock'}: ${run.perSecond.toFixed(0)} transactions/s (${run.done} done, ${run.rejected} found a copy)`,
      );
    }
  } finally {
    await db.close();
    await runCleanups();
  }
}

main().catch(async (error: unknown) => {
  console.error(error);
  await runCleanups();
  process.exit(1);
});
