/**
 * How Supabase Storage says what went wrong, read from its answers (supabase/storage,
 * src/internal/errors): most failures are HTTP 400 with the real status as a *string* in
 * the body, `{ "statusCode": "404", "code": "NoSuchBucket", "error": "Bucket not found",
 * "message": ... }`; a 5xx keeps its status. What is not Storage's own rendering looks
 * different: the framework's unknown route is a 404 whose `statusCode` is a number, the API
 * gateway's refusal of a key is a 401 `{ "message": "Invalid API key" }`, and a proxy's
 * page is not JSON at all.
 */
export interface StorageFailure {
  message: string;
  /** The HTTP status. */
  status?: number;
  /** Storage's own status (a string) when Storage rendered the error; see above. */
  statusCode?: string | number;
  /** Storage's error code ("NoSuchBucket", "AccessDenied", "InvalidJWT", ...). */
  code?: string;
}

export async function readFailure(response: Response): Promise<StorageFailure> {
  const text = await response.text().catch(() => '');
  let body: { message?: unknown; statusCode?: unknown; code?: unknown } = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object') body = parsed as typeof body;
  } catch {
    // Not JSON (a proxy's HTML page): the status alone has to do.
  }
  const statusCode = body.statusCode;
  return {
    message:
      typeof body.message === 'string'
        ? body.message
        : response.statusText || text.slice(0, 200) || `HTTP ${response.status}`,
    status: response.status,
    ...(typeof statusCode === 'string' || typeof statusCode === 'number' ? { statusCode } : {}),
    ...(typeof body.code === 'string' ? { code: body.code } : {}),
  };
}

/**
 * Storage's own "not found" (no such bucket, no such object), as opposed to a route that
 * does not exist: only Storage renders `statusCode` as the string "404".
 */
export const isStorageNotFound = (error: StorageFailure): boolean => error.statusCode === '404';

/**
 * Postgres row-level security refused the write: the key is a valid JWT of the project
 * but not the service role (the anon key), rendered as Storage's 403 AccessDenied.
 */
export const isRowLevelSecurityRefusal = (error: { message: string; statusCode?: unknown }) =>
  String(error.statusCode) === '403' && /row-level security/i.test(error.message);

/** "Supabase Storage: <action> failed: <message> (HTTP 400, 404)". */
export function describeFailure(
  action: string,
  error: { message: string; status?: number; statusCode?: unknown },
): string {
  const statusCode =
    error.statusCode !== undefined && String(error.statusCode) !== String(error.status)
      ? `, ${String(error.statusCode)}`
      : '';
  const status = error.status ? ` (HTTP ${error.status}${statusCode})` : '';
  return `Supabase Storage: ${action} failed: ${error.message}${status}`;
}
