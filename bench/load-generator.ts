// The load generator: a fixed number of concurrent senders (undici, keep-alive) post
// pre-signed webhooks for a warm-up and then a timed window. Runs in the bench process or,
// started as a child (`node --import tsx bench/load-generator.ts` with an IPC channel), in
// a process of its own.
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { type CpuUse, cpuBetween, sampleCpu } from './ingest-processes.js';
import { type PreparedRequest, type RequestKind, prepareRequests } from './ingest-requests.js';

export interface LoadSpec {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  path: string;
  authToken: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Requests prepared = maxRate × (warm-up + duration); the run stops early if they run out. */
  maxRate: number;
  seed: number;
  /** The server's pid, for CPU accounting. */
  serverPid: number | null;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export type StatusCounts = Record<string, number>;

export interface LoadResult {
  prepareMs: number;
  prepared: number;
  exhausted: boolean;
  /** Requests completed inside the timed window, per second. */
  throughput: number;
  timedMs: number;
  timedCompleted: number;
  latencyMs: LatencySummary;
  /** Timed window: responses by status (`error` for a failed request). */
  timedStatus: StatusCounts;
  /** All phases: responses by request kind and status. */
  byKind: Record<RequestKind, StatusCounts>;
  /** Responses that were not what the kind expects (unique/duplicate: 200 + TwiML, forged: 403). */
  unexpected: number;
  unexpectedSamples: string[];
  /** Every MessageSid that got a 200, from warm-up to the last in-flight request. */
  ackedSids: string[];
  forgedSids: string[];
  cpu: CpuUse;
}

const expectedStatus: Record<RequestKind, number> = { unique: 200, duplicate: 200, forged: 403 };

function summarize(latencies: Float64Array): LatencySummary {
  const sorted = latencies.slice().sort();
  // Nearest-rank percentiles.
  const at = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1] ?? NaN,
    mean: sum / Math.max(1, sorted.length),
  };
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const url = `${spec.origin}${spec.path}`;
  const preparing = performance.now();
  const requests: PreparedRequest[] = prepareRequests({
    url,
    authToken: spec.authToken,
    count: Math.ceil((spec.maxRate * (spec.warmupMs + spec.durationMs)) / 1000),
    seed: spec.seed,
  });
  const prepareMs = performance.now() - preparing;

  const pool = new Pool(spec.origin, {
    connections: spec.concurrency,
    pipelining: 1,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });

  const latencies = new Float64Array(requests.length);
  let timedCompleted = 0;
  const timedStatus: StatusCounts = {};
  const byKind: Record<RequestKind, StatusCounts> = { unique: {}, duplicate: {}, forged: {} };
  const acked = new Set<string>();
  const forgedSids: string[] = [];
  const unexpectedSamples: string[] = [];
  let unexpected = 0;
  let nextIndex = 0;
  let exhausted = false;

  const startedAt = process.hrtime.bigint();
  const timedStart = startedAt + BigInt(spec.warmupMs) * 1_000_000n;
  const timedEnd = timedStart + BigInt(spec.durationMs) * 1_000_000n;
  let startSample: ReturnType<typeof sampleCpu> | null = null;
  let endSample: ReturnType<typeof sampleCpu> | null = null;
  const startTimer = setTimeout(() => (startSample = sampleCpu(spec.serverPid)), spec.warmupMs);
  const endTimer = setTimeout(
    () => (endSample = sampleCpu(spec.serverPid)),
    spec.warmupMs + spec.durationMs,
  );

  const record = (request: PreparedRequest, status: string, ok: boolean, detail: string) => {
    const counts = byKind[request.kind];
    counts[status] = (counts[status] ?? 0) + 1;
    if (status === '200' && request.kind !== 'forged') acked.add(request.sid);
    if (!ok) {
      unexpected += 1;
      if (unexpectedSamples.length < 5) {
        unexpectedSamples.push(`${request.kind} ${request.sid}: ${status} ${detail.slice(0, 200)}`);
      }
    }
  };

  const sender = async () => {
    for (;;) {
      if (process.hrtime.bigint() >= timedEnd) return;
      const index = nextIndex++;
      const request = requests[index];
      if (!request) {
        exhausted = true;
        return;
      }
      if (request.kind === 'forged') forgedSids.push(request.sid);
      const sent = process.hrtime.bigint();
      let status: string;
      let ok: boolean;
      let detail = '';
      try {
        const response = await pool.request({
          method: 'POST',
          path: spec.path,
          headers: request.headers,
          body: request.body,
        });
        const text = await response.body.text();
        status = String(response.statusCode);
        ok =
          response.statusCode === expectedStatus[request.kind] &&
          (response.statusCode !== 200 || text.includes('<Response/>'));
        detail = text;
      } catch (error) {
        status = 'error';
        ok = false;
        detail = (error as Error).message;
      }
      const done = process.hrtime.bigint();
      record(request, status, ok, detail);
      if (done >= timedStart && done <= timedEnd) {
        latencies[timedCompleted] = Number(done - sent) / 1e6;
        timedCompleted += 1;
        timedStatus[status] = (timedStatus[status] ?? 0) + 1;
      }
    }
  };

  await Promise.all(Array.from({ length: spec.concurrency }, sender));
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  const finishedAt = process.hrtime.bigint();
  await pool.close();

  // A run cut short (requests exhausted) is measured over the time it actually ran.
  const windowEnd = finishedAt < timedEnd ? finishedAt : timedEnd;
  const timedMs = Math.max(0, Number(windowEnd - timedStart) / 1e6);
  const start = startSample ?? sampleCpu(spec.serverPid);
  const end = endSample ?? sampleCpu(spec.serverPid);
  return {
    prepareMs,
    prepared: requests.length,
    exhausted,
    throughput: timedMs > 0 ? timedCompleted / (timedMs / 1000) : 0,
    timedMs,
    timedCompleted,
    latencyMs: summarize(latencies.subarray(0, timedCompleted)),
    timedStatus,
    byKind,
    unexpected,
    unexpectedSamples,
    ackedSids: [...acked],
    forgedSids,
    cpu: cpuBetween(start, end),
  };
}

// Child mode: receive one LoadSpec over IPC, answer with the LoadResult, exit.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  process.once('message', (spec: LoadSpec) => {
    runLoad(spec).then(
      (result) => process.send?.(result, () => process.exit(0)),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
  // The bench went away: nothing left to report to.
  process.once('disconnect', () => process.exit(1));
}
