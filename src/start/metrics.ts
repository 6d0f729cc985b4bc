import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queryable } from '../db/executor.js';
import type { ClaimedOutbound } from '../db/outbound.js';
import { inboundReceivedAt, outboundStatusCounts, queueDepths } from '../db/queue-stats.js';
import type { ClaimedMessage } from '../db/message-queue.js';
import type { AppMetrics } from '../http/routes/metrics.js';
import type { JobOutcome } from '../jobs/queue-worker.js';
import type { InboundMessageStore } from '../services/receive-inbound.js';

export interface ServiceMetrics extends AppMetrics {
  /** Counts re-delivered webhooks (a MessageSid already stored). */
  countingDuplicates(store: InboundMessageStore): InboundMessageStore;
  /** WorkerOptions.observe: jobs processed, retried, failed, and their latencies. */
  observeJob(event: JobOutcome): void;
}

// Seconds; from a fast text reply (tens of ms) to a slow photo download with retries.
const latencyBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];

const rejectionReasons: Record<number, string> = {
  400: 'invalid_request',
  403: 'invalid_signature',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/**
 * The service's Prometheus metrics, in a registry of its own (several services in one
 * process, as in tests, never share counters). Counters count what this process saw; the
 * queue-depth and outbound-status gauges are read from the database at scrape time, so
 * every process reports the same, whole-system values for them.
 */
export function createMetrics(db: Queryable): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const webhooksReceived = new Counter({
    name: 'taskwire_webhooks_received_total',
    help: 'Twilio webhooks accepted (signed and well-formed), by route: inbound messages or delivery status callbacks.',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const webhooksRejected = new Counter({
    name: 'taskwire_webhooks_rejected_total',
    help: 'Twilio webhooks refused, by route and reason (invalid_signature, invalid_request, unsupported_media_type, payload_too_large, error).',
    labelNames: ['route', 'reason'] as const,
    registers: [registry],
  });
  const duplicates = new Counter({
    name: 'taskwire_webhook_duplicates_total',
    help: 'Inbound webhooks whose MessageSid was already stored (Twilio re-deliveries); acknowledged, changed nothing.',
    registers: [registry],
  });
  const jobsProcessed = new Counter({
    name: 'taskwire_jobs_processed_total',
    help: 'Jobs completed, by queue (inbound: message processing; outbound: sending).',
    labelNames: ['queue'] as const,
    registers: [registry],
  });
  const jobsRetried = new Counter({
    name: 'taskwire_jobs_retried_total',
    help: 'Job attempts that failed and were scheduled again with back-off, by queue.',
    labelNames: ['queue'] as const,
    registers: [registry],
  });
  const jobsFailed = new Counter({
    name: 'taskwire_jobs_failed_total',
    help: 'Jobs that failed for good (permanent error or last attempt), by queue.',
    labelNames: ['queue'] as const,
    registers: [registry],
  });
  const claimsLost = new Counter({
    name: 'taskwire_jobs_claims_lost_total',
    help: 'Job runs whose claim another worker took over (lease expired); their result was discarded.',
    labelNames: ['queue'] as const,
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: 'taskwire_job_duration_seconds',
    help: 'Time one job run took, by queue and outcome.',
    labelNames: ['queue', 'outcome'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const processingLatency = new Histogram({
    name: 'taskwire_processing_latency_seconds',
    help: 'From an inbound message being stored to it being processed (queue wait, media copy, task completion).',
    buckets: latencyBuckets,
    registers: [registry],
  });
  const replyLatency = new Histogram({
    name: 'taskwire_reply_latency_seconds',
    help: 'From an inbound message being stored to its reply being accepted by Twilio (or the development outbox).',
    buckets: latencyBuckets,
    registers: [registry],
  });

  new Gauge({
    name: 'taskwire_queue_depth',
    help: 'Unfinished jobs by queue and state: due (claimable now), scheduled (waiting to retry), running (claimed). Read from the database.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const depth of await queueDepths(db)) {
        this.set({ queue: depth.queue, state: 'due' }, depth.due);
        this.set({ queue: depth.queue, state: 'scheduled' }, depth.scheduled);
        this.set({ queue: depth.queue, state: 'running' }, depth.running);
      }
    },
  });
  new Gauge({
    name: 'taskwire_outbound_messages',
    help: 'Outbound messages by status (pending, submitting, then Twilio status: sent, delivered, read, failed, ...) and whether they went to the development outbox. Read from the database.',
    labelNames: ['status', 'outbox'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await outboundStatusCounts(db)) {
        this.set({ status: row.status, outbox: String(row.outbox) }, row.count);
      }
    },
  });

  const sinceSeconds = (date: Date | string) => (Date.now() - new Date(date).getTime()) / 1000;

  // Reply latencies: the receipt times of the answered messages are looked up together,
  // one statement per 100 ms instead of one per reply sent (bench:loop).
  let replies: { inboundId: number; sentAt: number }[] = [];
  const lookUpReplies = () => {
    const batch = replies;
    replies = [];
    void inboundReceivedAt(db, [...new Set(batch.map((reply) => reply.inboundId))]).then(
      (receivedAt) => {
        for (const { inboundId, sentAt } of batch) {
          const at = receivedAt.get(inboundId);
          if (at) replyLatency.observe((sentAt - new Date(at).getTime()) / 1000);
        }
      },
      () => {},
    );
  };

  return {
    webhookAnswered(route, statusCode) {
      if (statusCode < 300) {
        webhooksReceived.inc({ route });
        return;
      }
      const reason =
        statusCode >= 500 ? 'error' : (rejectionReasons[statusCode] ?? `http_${statusCode}`);
      webhooksRejected.inc({ route, reason });
    },
    countingDuplicates(store) {
      return {
        async store(message) {
          const outcome = await store.store(message);
          if (outcome.id === null) duplicates.inc();
          return outcome;
        },
      };
    },
    observeJob(event) {
      const queue = event.queue;
      jobDuration.observe({ queue, outcome: event.outcome }, event.durationMs / 1000);
      if (event.outcome === 'retry') jobsRetried.inc({ queue });
      else if (event.outcome === 'failed') jobsFailed.inc({ queue });
      else if (event.outcome === 'claim_lost') claimsLost.inc({ queue });
      if (event.outcome !== 'processed') return;
      jobsProcessed.inc({ queue });
      if (queue === 'inbound') {
        processingLatency.observe(sinceSeconds((event.job as ClaimedMessage).created_at));
      } else if (queue === 'outbound') {
        const inboundId = (event.job as ClaimedOutbound).inbound_message_id;
        if (inboundId === null) return;
        if (replies.length === 0) setTimeout(lookUpReplies, 100).unref();
        replies.push({ inboundId, sentAt: Date.now() });
      }
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
