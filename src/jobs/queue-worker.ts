import { isConnectionError } from '../db/connection-errors.js';
import type { Database } from '../db/executor.js';
import type { Claim, ClaimedRow, Failure } from '../db/queue-table.js';
import { retryDelayMs } from './backoff.js';

/** A job as a queue table hands it out: its row id, attempt number and fencing token. */
export type ClaimedJob = ClaimedRow;

/**
 * The table-specific half of a worker: how to claim rows and how to record a failure.
 * Every queue table of src/db/queue-table.ts is one (inboundQueue, outboundQueue).
 */
export interface JobQueue<Job extends ClaimedJob> {
  /** Short name for logs and metrics, e.g. `inbound`. */
  name: string;
  /** NOTIFY channel announcing new work. */
  channel: string;
  claim(db: Database, limit: number, leaseMs: number): Promise<Job[]>;
  markFailed(db: Database, claim: Claim, failure: Failure): Promise<unknown>;
  /** Renews a running job's claim for another `leaseMs`. */
  extendLease(db: Database, claim: Claim, leaseMs: number): Promise<boolean>;
}

import { ClaimLostError, describeError, isPermanent } from '../domain/processing-errors.js';
import { maskPhoneNumbers } from '../domain/redact.js';

export interface WorkerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WorkerOptions {
  /** Messages processed at once by this worker. */
  concurrency: number;
  /** How long an idle worker waits before looking for due work it was not woken for. */
  pollMs: number;
  /** How long a claim lasts before another worker may take the message over. */
  leaseMs: number;
  maxAttempts: number;
  /** First retry delay; doubles per attempt. */
  backoffMs: number;
  /**
   * How soon a job cut short by the database going away runs again (default 2 s); such a
   * run does not count as an attempt. See outageRetry in createQueueWorker.
   */
  outageRetryMs?: number;
  log: WorkerLog;
  /** Told how every job ended (for metrics); must not throw. */
  observe?: (event: JobOutcome) => void;
}

/**
 * How one run of a job ended: `processed`, `retry` (failed, will run again), `failed`
 * (for good), or `claim_lost` (another worker took it over; the result was discarded).
 */
export interface JobOutcome {
  queue: string;
  outcome: 'processed' | 'retry' | 'failed' | 'claim_lost';
  durationMs: number;
  job: ClaimedJob;
}

/**
 * Does the work for one job and, in its final transaction, marks it done (throwing
 * ClaimLostError when that finds the claim gone, which rolls the transaction back).
 * Throws to retry, or PermanentJobError to give up.
 */
export type ProcessJob<Job> = (job: Job) => Promise<void>;

export interface QueueWorker {
  /** Starts claiming and processing messages in the background. */
  start(): Promise<void>;
  /** Look for work now (a message was just stored). */
  wake(): void;
  /**
   * Claims due messages and processes them until none is due; for tests and the CLI.
   * Not to be mixed with start().
   */
  runUntilIdle(): Promise<number>;
  /**
   * Stops claiming, waits up to `graceMs` for running messages, and hands back the ones
   * still running so another worker retries them without waiting for the lease to expire.
   */
  stop(graceMs: number): Promise<void>;
  /**
   * Lets other work on the same database go first: while `busy()` is true, claims wait,
   * each for at most `maxHoldMs` (default `pollMs`) after the previous claim, so jobs
   * still progress under sustained load. `taskwire serve` has its workers yield to
   * webhooks being stored: on PGlite every query, the worker's and the webhooks', runs one
   * at a time on the event-loop thread; on Postgres processing competes for the same cores.
   */
  yieldTo(busy: () => boolean, options?: { maxHoldMs?: number }): void;
}

/**
 * The heartbeat of one running job: renews its lease every third of the lease, so a job
 * is taken over only when its process died (or stalled for a whole lease), and with the
 * default 30-second lease a crashed worker's job runs again within 30 seconds. Two
 * renewals in a row may fail or come late (a database hiccup, an event loop blocked for
 * seconds by a large batch) before the lease runs out. Renewals never overlap, so a slow
 * database does not pile them up, and a failed one is retried within a second rather than
 * a third of a lease later. A timer that fires late renews at once. Stops by itself once
 * a renewal finds the claim gone, and tells `onLost` a heartbeat later unless stopped by
 * then: the renewal may have met the job's own final transaction, which marks the row done
 * and whose answer can reach the job after the renewal's (another connection, or queries
 * the job still runs after its commit); a job still running a heartbeat later has really
 * lost its claim. Returns the function that stops it.
 */
export function keepClaim(
  renew: () => Promise<boolean>,
  leaseMs: number,
  onLost: () => void,
): () => void {
  const everyMs = Math.max(50, Math.floor(leaseMs / 3));
  const retryMs = Math.min(everyMs, 1000);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const beat = async () => {
    let nextMs = everyMs;
    try {
      if (!(await renew())) {
        if (!stopped) timer = setTimeout(onLost, everyMs);
        return;
      }
    } catch {
      nextMs = retryMs;
    }
    if (!stopped) timer = setTimeout(() => void beat(), nextMs);
  };
  timer = setTimeout(() => void beat(), everyMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** While the database is unreachable, claims back off up to this many poll intervals. */
const MAX_BACKOFF_POLLS = 30;

/**
 * A worker over one queue table. Runs inside `taskwire serve` and alone as
 * `taskwire worker`; any number of them can share one Postgres database.
 */
export function createQueueWorker<Job extends ClaimedJob>(
  db: Database,
  queue: JobQueue<Job>,
  processMessage: ProcessJob<Job>,
  options: WorkerOptions,
): QueueWorker {
  const running = new Map<number, { claim: Job; done: Promise<void> }>();
  let stopping = false;
  let loopDone: Promise<void> = Promise.resolve();
  let unlisten: (() => Promise<void>) | null = null;
  // Whether due work may be waiting that no claim has looked for yet: set by wake() and
  // by a claim that filled every free slot, cleared by a claim that found less.
  let wanted = true;
  // Counts wake() calls, so a claim can tell whether a wake came in while it ran.
  let wakes = 0;
  // Re-checks the idle wait's condition (see waitForWork).
  let recheck: (() => void) | null = null;
  let othersBusy: (() => boolean) | null = null;
  let maxHoldMs = options.pollMs;
  // When the last claim started; the first claim is never held back (see yieldMs).
  let lastClaimAt = Number.NEGATIVE_INFINITY;

  const freeSlots = (): number => options.concurrency - running.size;

  // Waits that stop() ends early (see outageRetry).
  const pauses = new Set<() => void>();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        pauses.delete(done);
        resolve();
      }
      pauses.add(done);
    });

  const wake = (): void => {
    wanted = true;
    wakes += 1;
    recheck?.();
  };

  /**
   * Waits until there is reason to claim: work is wanted and a slot is free, `pollMs`
   * passed (retries whose back-off ended announce themselves to nobody), or stopping.
   * A job that ends frees a slot but does not by itself mean more work is due, so it
   * only re-checks: claims that would find nothing cost a query each, and on PGlite
   * every query runs on the thread that also parses and stores webhooks.
   */
  const waitForWork = (ms: number) =>
    new Promise<void>((resolve) => {
      const ready = () => stopping || (wanted && freeSlots() > 0);
      if (ready()) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        recheck = null;
        resolve();
      }
      recheck = () => {
        if (ready()) done();
      };
    });

  // One claim per event-loop turn at most: the wakes of a whole batch of stored webhooks
  // (one per webhook, all in the same turn) lead to one claim, not one each.
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

  /** How long to hold a claim back for others' work (see yieldTo); 0 to claim now. */
  const yieldMs = (): number => {
    if (!othersBusy?.()) return 0;
    const left = lastClaimAt + maxHoldMs - performance.now();
    // Looks again soon: the other work usually finishes within milliseconds.
    return left > 0 ? Math.min(left, 10) : 0;
  };

  const finish = async (message: Job, work: Promise<void>) => {
    const claim = { id: message.id, claims: message.claims };
    const started = Date.now();
    const observe = (outcome: JobOutcome['outcome']) => {
      try {
        options.observe?.({
          queue: queue.name,
          outcome,
          durationMs: Date.now() - started,
          job: message,
        });
      } catch {
        // Metrics never break processing.
      }
    };
    try {
      await work;
      observe('processed');
    } catch (error) {
      if (error instanceof ClaimLostError) {
        observe('claim_lost');
        options.log.warn(
          { messageId: message.id },
          'claim lost before completion; result discarded',
        );
        return;
      }
      if (isConnectionError(error) && !(await reachable())) {
        await outageRetry(message, claim, error, observe);
        return;
      }
      const permanent = isPermanent(error);
      const final = permanent || message.attempts >= options.maxAttempts;
      const retryInMs = final ? 0 : retryDelayMs(message.attempts, options.backoffMs);
      observe(final ? 'failed' : 'retry');
      options.log.warn(
        {
          jobId: message.id,
          queue: queue.channel,
          attempt: message.attempts,
          final,
          retryInMs,
          err: maskPhoneNumbers(describeError(error)),
        },
        final ? 'message processing failed for good' : 'message processing failed; will retry',
      );
      const code = (error as { code?: unknown }).code;
      const failure = {
        error: describeError(error),
        final,
        retryInMs,
        code: typeof code === 'number' ? code : null,
        outcomeUnknownSince: outcomeUnknownSince(error),
      };
      await queue
        .markFailed(db, claim, failure)
        .catch((markError: unknown) =>
          options.log.error(
            { jobId: message.id, err: maskPhoneNumbers(describeError(markError)) },
            'could not record failure',
          ),
        );
    }
  };

  // A job that failed with a connection error may have met a database that went away, or
  // a connection to someone else (Twilio's media host, its API) that broke; asking the
  // database tells them apart.
  const reachable = () =>
    db.query('SELECT 1').then(
      () => true,
      () => false,
    );

  /**
   * The database went away mid-job: the job did not fail, so the run is not counted
   * towards maxAttempts, and it is due again after `outageRetryMs` rather than a full
   * back-off. Recording that needs the database too: tried again, backing off like the
   * claims, until it is reachable (the heartbeat keeps the claim meanwhile), the claim is
   * found lost, or the worker stops (the lease then hands the job over).
   */
  const outageRetry = async (
    message: Job,
    claim: Claim,
    error: unknown,
    observe: (outcome: JobOutcome['outcome']) => void,
  ) => {
    const retryInMs = options.outageRetryMs ?? 2000;
    observe('retry');
    options.log.warn(
      {
        jobId: message.id,
        queue: queue.name,
        attempt: message.attempts,
        retryInMs,
        err: maskPhoneNumbers(describeError(error)),
      },
      'the database went away mid-job; will retry without counting the attempt',
    );
    const failure = {
      error: describeError(error),
      final: false,
      retryInMs,
      counted: false,
      outcomeUnknownSince: outcomeUnknownSince(error),
    };
    for (let tries = 1; !stopping; tries += 1) {
      try {
        await queue.markFailed(db, claim, failure);
        return;
      } catch (markError) {
        if (!isConnectionError(markError)) {
          options.log.error(
            { jobId: message.id, err: maskPhoneNumbers(describeError(markError)) },
            'could not record failure',
          );
          return;
        }
        await pause(claimBackoffMs(tries));
      }
    }
  };

  /** The wait after `failures` failed claims in a row: poll, 2×, 4× … up to 30 polls. */
  const claimBackoffMs = (failures: number) =>
    options.pollMs * Math.min(2 ** Math.max(0, failures - 1), MAX_BACKOFF_POLLS);

  const launch = (message: Job): Promise<void> => {
    // A lease that expired after a crash brings the message back with one attempt too
    // many: give up instead of running it again.
    const work =
      message.attempts > options.maxAttempts
        ? Promise.reject(new Error(`gave up after ${options.maxAttempts} attempts`))
        : Promise.resolve().then(() => processMessage(message));
    const stopHeartbeat = keepClaim(
      () => queue.extendLease(db, { id: message.id, claims: message.claims }, options.leaseMs),
      options.leaseMs,
      () =>
        options.log.warn(
          { jobId: message.id, queue: queue.name },
          'claim lost while running (the lease ran out); its result will be discarded',
        ),
    );
    const done = finish(message, work).finally(() => {
      stopHeartbeat();
      running.delete(message.id);
      recheck?.();
    });
    running.set(message.id, { claim: message, done });
    return done;
  };

  const claimBatch = async (): Promise<Job[]> => {
    const free = freeSlots();
    if (free <= 0 || stopping) return [];
    return queue.claim(db, free, options.leaseMs);
  };

  // Only this loop claims while the worker runs, so one claim at most is in flight; a
  // wake that arrives meanwhile makes it claim once more afterwards.
  const loop = async () => {
    let held = false;
    // Failed claims in a row: while the database is unreachable, each waits longer.
    let failures = 0;
    while (!stopping) {
      // After a hold the claim is still due, whatever `wanted` says (it may be a poll).
      if (!held) await waitForWork(failures > 0 ? claimBackoffMs(failures) : options.pollMs);
      held = false;
      await nextTurn();
      const free = freeSlots();
      if (stopping || free <= 0) continue;
      const holdMs = yieldMs();
      if (holdMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, holdMs));
        held = true;
        continue;
      }
      lastClaimAt = performance.now();
      const wakesBefore = wakes;
      let claimed: Job[] = [];
      try {
        claimed = await claimBatch();
        failures = 0;
        // A claim that filled every free slot suggests more is due.
        wanted = claimed.length >= free || wakes !== wakesBefore;
      } catch (error) {
        // Not in a tight loop: an outage costs one query and one log line per back-off, and
        // a wake (a NOTIFY: the database is back) claims at once.
        wanted = false;
        failures += 1;
        options.log.warn(
          { queue: queue.name, retryInMs: claimBackoffMs(failures), err: describeError(error) },
          'could not claim messages; retrying',
        );
      }
      for (const message of claimed) void launch(message);
    }
  };

  return {
    async start() {
      unlisten = await db.listen(queue.channel, wake);
      loopDone = loop();
    },
    wake,
    async runUntilIdle() {
      let processed = 0;
      for (;;) {
        const claimed = await claimBatch();
        if (claimed.length === 0 && running.size === 0) return processed;
        processed += claimed.length;
        claimed.forEach((message) => void launch(message));
        await Promise.race([...running.values()].map((entry) => entry.done));
      }
    },
    yieldTo(busy, yieldOptions = {}) {
      othersBusy = busy;
      maxHoldMs = yieldOptions.maxHoldMs ?? options.pollMs;
    },
    async stop(graceMs) {
      stopping = true;
      recheck?.();
      for (const end of [...pauses]) end();
      await loopDone;
      await unlisten?.();
      const pending = [...running.values()];
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(pending.map((entry) => entry.done)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
      // Cut off: release the claims so the messages are retried soon, not lost. The run
      // did not fail (nor, for a photo still waiting for a media slot, start), so its
      // attempt does not count towards the maximum.
      for (const { claim } of running.values()) {
        await queue
          .markFailed(
            db,
            { id: claim.id, claims: claim.claims },
            {
              error: 'interrupted by shutdown',
              final: false,
              retryInMs: 0,
              code: null,
              counted: false,
            },
          )
          .catch(() => {});
      }
    },
  };
}

/**
 * When the failed attempt began, if a job says it may have taken effect unseen (an error
 * with `outcomeUnknownSince`: src/jobs/send-outbound.ts); kept on the row with the failure.
 */
function outcomeUnknownSince(error: unknown): Date | null {
  const since = (error as { outcomeUnknownSince?: unknown } | null)?.outcomeUnknownSince;
  return since instanceof Date ? since : null;
}
