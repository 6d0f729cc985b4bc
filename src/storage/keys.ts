import { validationFailed } from '../domain/errors.js';

/**
 * The one grammar for object keys, shared by every driver so that a key accepted by one
 * backend is accepted by all (moving from local disk to S3 never meets a key S3 would
 * refuse). Keys are `messages/<MessageSid>/<index>.<ext>` in practice.
 *
 * - only `A-Z a-z 0-9 . _ - /`: nothing that needs escaping in a URL or a file name;
 * - `/` separates non-empty segments; no leading `/` (absolute) and no trailing `/`;
 * - no segment starts with `.`: this rules out `.` and `..` (path traversal) and leaves
 *   dot-names free for the local driver's temporary files;
 * - no `..` anywhere, even inside a segment, so no later join can ever climb;
 * - no `.meta.json` suffix: the local driver keeps each object's content type in a
 *   `<key>.meta.json` file beside it.
 */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
export const MAX_KEY_LENGTH = 1024;
export const RESERVED_KEY_SUFFIX = '.meta.json';

/** Why `key` is not a valid object key, or null when it is. */
export function objectKeyProblem(key: string): string | null {
  if (key.length === 0) return 'it is empty';
  if (key.length > MAX_KEY_LENGTH) return `it is longer than ${MAX_KEY_LENGTH} characters`;
  if (key.includes('..')) return 'it contains ".."';
  if (key.endsWith(RESERVED_KEY_SUFFIX)) return `it ends with "${RESERVED_KEY_SUFFIX}"`;
  for (const segment of key.split('/')) {
    if (!SEGMENT.test(segment)) {
      return 'expected segments of A-Z, a-z, 0-9, ".", "_" or "-" separated by single "/", none starting with "."';
    }
  }
  return null;
}

export const isObjectKey = (key: string): boolean => objectKeyProblem(key) === null;

/** Throws a validation_failed error naming the key and the rule it breaks. */
export function assertObjectKey(key: string): void {
  const problem = objectKeyProblem(key);
  if (problem) throw validationFailed(`Invalid object key "${key}": ${problem}.`);
}

/**
 * Bucket names every backend accepts (S3's rules are the strictest): 3-63 lower-case
 * letters, digits and hyphens, starting and ending with a letter or digit.
 */
export function assertBucketName(bucket: string): void {
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw validationFailed(
      `Invalid bucket name "${bucket}": expected 3-63 lower-case letters, digits or "-", such as "notes".`,
    );
  }
}
