// npm run bench:transactions — what one transaction costs through Taskwire's Postgres
// executor (src/db/postgres.ts), by its number of statements: wall time, this process's
// CPU and the Postgres backend's CPU per transaction, one transaction after another on one
// connection. Every statement is a round trip, and on a small VM a round trip's syscalls
// and wake-ups cost more than the statement itself, so this measures round trips: with
// `--root`, another checkout's executor (its dist/, `npm run build` there) runs the same
// load for comparison. See BENCHMARKS.md ("What a round trip costs here").
//
//   npm run build && npm run bench:transactions
//   npm run bench:transactions -- --root /tmp/base --transactions 5000
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Database } from '../src/db/executor.js';
import { createDatabase } from './ingest-db.js';
import { cleanUpOnSignals, exitAfterCleanup } from './ingest-processes.js';
import { BackendCpu } from './loop-db.js';
import { table } from './report-table.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const usage = `Usage: npm run bench:transactions -- [options]

  --root DIR            the checkout whose dist/db/postgres.js runs (default this one)
  --transactions N      transactions per row of the table (default 3000)
  --statements LIST     statements per transaction, one row each (default 1,2,4)
  --rounds N            each row this many times; the best round is shown (default 3)`;

const { values: flags } = parseArgs({
  options: {
    root: { type: 'string', default: repoRoot },
    transactions: { type: 'string', default: '3000' },
    statements: { type: 'string', default: '1,2,4' },
    rounds: { type: 'string', default: '3' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(usage);
  process.exit(0);
}
const positive = (name: string, text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a whole number ≥ 1\n\n${usage}`);
    process.exit(2);
  }
  return value;
};
const transactions = positive('transactions', flags.transactions);
const rounds = positive('rounds', flags.rounds);
const statementCounts = flags.statements.split(',').map((s) => positive('statements', s.trim()));

cleanUpOnSignals();
const executor = pathToFileURL(path.join(path.resolve(flags.root), 'dist/db/postgres.js')).href;
const { openPostgres } = (await import(executor).catch((error: unknown) => {
  console.error(
    `cannot load ${executor} (run \`npm run build\` in ${flags.root}): ${String(error)}`,
  );
  process.exit(2);
})) as { openPostgres(options: { connectionString: string; poolSize: number }): Promise<Database> };

const bench = await createDatabase('transactions');
const db = await openPostgres({ connectionString: bench.url, poolSize: 1 });
const backends = await BackendCpu.open(bench.name);

async function run(statements: number, count: number) {
  const cpuBefore = process.cpuUsage();
  const backendBefore = await backends.sample();
  const started = performance.now();
  for (let i = 0; i < count; i += 1) {
    await db.transaction(async (tx) => {
      for (let s = 0; s < statements; s += 1) await tx.query('SELECT $1::int AS n', [i + s]);
    });
  }
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const backendMs = BackendCpu.between(backendBefore, await backends.sample());
  return {
    wallUs: (wallMs * 1000) / count,
    clientUs: (cpu.user + cpu.system) / count,
    postgresUs: (backendMs * 1000) / count,
  };
}

try {
  console.log(`executor: ${executor}`);
  await run(2, 500); // warm-up: connection, prepared statements, JIT of this process
  const rows: string[][] = [];
  for (const statements of statementCounts) {
    let best: Awaited<ReturnType<typeof run>> | null = null;
    for (let round = 0; round < rounds; round += 1) {
      const result = await run(statements, transactions);
      if (!best || result.wallUs < best.wallUs) best = result;
    }
    if (!best) continue;
    rows.push([
      String(statements),
      String(transactions),
      best.wallUs.toFixed(0),
      best.clientUs.toFixed(0),
      best.postgresUs.toFixed(0),
    ]);
  }
  console.log(
    table(
      ['statements per tx', 'transactions', 'µs wall per tx', 'µs CPU client', 'µs CPU postgres'],
      rows,
    ),
  );
} finally {
  await backends.close();
  await db.close();
  await bench.drop();
}
await exitAfterCleanup(0);
