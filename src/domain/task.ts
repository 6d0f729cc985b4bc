import { validationFailed } from './errors.js';

/**
 * Glossary
 * - Task: something a user promised to do before its due time. It starts `active`; a
 *   photo from the user completes it (`completed`, points awarded), the due time passing
 *   expires it (`expired`), and an admin may cancel it (`cancelled`). Only active tasks
 *   change.
 * - Feed post: the proof of one completed task (the photo and the message's text).
 */

// `pending_review`: a photo waits for the group's (or the model's) decision (issue 16).
export const taskStatuses = [
  'active',
  'completed',
  'expired',
  'cancelled',
  'pending_review',
] as const;
export type TaskStatus = (typeof taskStatuses)[number];

/** A row of `tasks`. */
export interface TaskRow {
  id: number;
  created_at: Date;
  user_id: number;
  description: string;
  due_time: Date;
  status: TaskStatus;
  /** Points the user earns by completing it. */
  points: number;
  completed_at: Date | null;
  /** When its due time passed without a photo. */
  expired_at: Date | null;
  /** The habit this task is an occurrence of (src/domain/habit.ts), else null. */
  habit_id: number | null;
  /** The group whose rules (review, sharing) apply to its proof (src/domain/group.ts). */
  group_id: number | null;
}

/** Points a task is worth unless its creator says otherwise. */
export const DEFAULT_POINTS_PER_TASK = 10;
export const MAX_POINTS_PER_TASK = 100_000;
export const DESCRIPTION_MAX_LENGTH = 2000;

/** Trims a task description and checks it is 1 to 2000 characters. */
export function parseDescription(input: string): string {
  const description = input.trim();
  if (description.length === 0 || description.length > DESCRIPTION_MAX_LENGTH) {
    throw validationFailed(
      `description must be 1 to ${DESCRIPTION_MAX_LENGTH} characters once spaces are trimmed.`,
    );
  }
  return description;
}

/**
 * An ISO 8601 date-time with an offset (`2025-05-01T18:00:00+02:00`, `...Z`) as a Date.
 * Without an offset the instant would depend on the server's zone, so it is refused.
 */
export function parseDueTime(input: string): Date {
  const hasOffset = /(?:z|[+-]\d\d(?::?\d\d)?)$/i.test(input.trim());
  const date = new Date(input);
  if (!hasOffset || !/^\d{4}-\d\d-\d\d[t ]/i.test(input.trim()) || Number.isNaN(date.getTime())) {
    throw validationFailed(
      'due_time must be an ISO 8601 date-time with an offset, e.g. "2025-05-01T18:00:00+02:00" ' +
        `or "2025-05-01T16:00:00Z"; got "${input}".`,
    );
  }
  return date;
}
