import type { Database } from '../db/executor.js';
import { type ClaimedModelReview, findTask, findUser, finishModelReview } from '../db/reviews.js';
import { ClaimLostError } from '../domain/processing-errors.js';
import { askPeers, decideReview, type ReviewSettings } from '../services/reviews.js';
import type { BlobStore } from '../storage/adapter.js';
import type { JudgeProof, ProofVerdict } from '../vision/openai-compatible.js';
import type { ProcessJob } from './queue-worker.js';

/** The queue this job runs on: proof_reviews rows whose model_status is pending. */
export { modelReviewQueue } from '../db/reviews.js';

export interface ModelReviewDeps {
  db: Database;
  store: BlobStore;
  /** The vision model (src/vision/openai-compatible.ts); null: not configured. */
  judge: JudgeProof | null;
  /** A verdict at least this sure decides (PROOF_MODEL_CONFIDENCE, default 0.8). */
  minConfidence: number;
  settings: Pick<ReviewSettings, 'timeoutMs' | 'defaultTimezone' | 'groupNews'>;
  clock?: () => Date;
}

/** Photos larger than this are not sent to the model (peers review them). */
const MAX_PHOTO_BYTES = 20 * 1024 * 1024;

async function photoDataUrl(store: BlobStore, key: string): Promise<string> {
  const object = await store.get(key);
  if (!object) throw new Error('The photo is no longer in the bucket.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of object.body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > MAX_PHOTO_BYTES) {
      object.body.destroy();
      throw new Error('The photo is too large to send to the model.');
    }
    chunks.push(buffer);
  }
  return `data:${object.contentType};base64,${Buffer.concat(chunks).toString('base64')}`;
}

type Outcome =
  { kind: 'approve' | 'reject'; verdict: ProofVerdict } | { kind: 'peer'; note: object };

/**
 * One model review: the photo (as a data: URL, read from the bucket) and the task go to the
 * vision model, outside any transaction; then, in one transaction on the held claim, a
 * confident match approves, a confident mismatch rejects with the model's reason, and
 * anything else (unsure, an error, a timeout, no model configured) asks the group's other
 * members instead, with a fresh REVIEW_TIMEOUT. A review decided meanwhile (an admin, the
 * timeout) is left as it is. The model's failures are not retried here: the judge bounds
 * its own time and retries, and peers are the fallback.
 */
export function modelReviewJob(deps: ModelReviewDeps): ProcessJob<ClaimedModelReview> {
  const clock = deps.clock ?? (() => new Date());
  return async (review) => {
    let outcome: Outcome;
    if (review.status !== 'pending') {
      outcome = { kind: 'peer', note: { skipped: `Already ${review.status}.` } };
    } else if (!deps.judge) {
      outcome = { kind: 'peer', note: { fallback: 'No model configured (PROOF_MODEL_URL).' } };
    } else if (!review.image_key) {
      outcome = { kind: 'peer', note: { fallback: 'The photo is not in the bucket.' } };
    } else {
      try {
        const task = await findTask(deps.db, review.task_id);
        const verdict = await deps.judge({
          task: task?.description ?? 'the task',
          imageUrl: await photoDataUrl(deps.store, review.image_key),
        });
        outcome =
          verdict.confidence >= deps.minConfidence
            ? { kind: verdict.matches ? 'approve' : 'reject', verdict }
            : { kind: 'peer', note: { ...verdict, fallback: 'Not confident enough.' } };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        outcome = { kind: 'peer', note: { fallback: `The model failed: ${message}` } };
      }
    }
    const now = clock();
    await deps.db.transaction(async (tx) => {
      const peers = outcome.kind === 'peer' && review.status === 'pending';
      const verdict = outcome.kind === 'peer' ? outcome.note : outcome.verdict;
      const timeoutAt = peers ? new Date(now.getTime() + deps.settings.timeoutMs) : null;
      if (!(await finishModelReview(tx, review, verdict, timeoutAt))) {
        throw new ClaimLostError(review.id);
      }
      if (outcome.kind !== 'peer') {
        await decideReview(
          tx,
          review.id,
          {
            status: outcome.kind === 'approve' ? 'approved' : 'rejected',
            by: 'model',
            userId: null,
            reason: outcome.kind === 'reject' ? outcome.verdict.reason : null,
            at: now,
          },
          deps.settings,
        );
      } else if (peers) {
        const [task, owner] = [
          await findTask(tx, review.task_id),
          await findUser(tx, review.user_id),
        ];
        if (task && owner) await askPeers(tx, review, task, owner, now);
      }
    });
  };
}
