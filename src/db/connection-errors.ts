/**
 * Which database errors mean "the database is not reachable right now" rather than "this
 * statement is wrong": the connection was refused, reset or terminated, or the server is
 * starting, shutting down or failing over. Such an error says nothing about the request
 * that met it, so the webhook answers 503 (Twilio retries) instead of 500, and a job that
 * met it is simply retried. Shared by every module that classifies database errors.
 */

// SQLSTATEs of the connection class and of a server going away:
// 08xxx connection exceptions; 57P01 admin_shutdown (also pg_terminate_backend),
// 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or shutting down),
// 57P05 idle_session_timeout; 53300 too_many_connections (a pooler restarting).
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05', '53300']);

// Socket errors of node:net while connecting to or talking with the server.
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  // A host name that does not resolve yet, as a database container that is still starting.
  'ENOTFOUND',
]);

// node-postgres reports a lost connection as a plain Error with one of these messages.
const MESSAGES = [
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable/,
  /^Client was closed and is not queryable/,
  /^timeout exceeded when trying to connect/,
  /^Connection terminated due to connection timeout/,
  /^terminating connection due to administrator command/,
];

/**
 * True when `error` (or its `cause`, or any error of an AggregateError, as a refused
 * connection to a host with several addresses is reported) means the database is
 * unreachable, so retrying later may succeed.
 */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) return false;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string') {
    if (code.startsWith('08') && code.length === 5) return true;
    if (SQLSTATES.has(code) || SOCKET_CODES.has(code)) return true;
  }
  if (typeof message === 'string' && MESSAGES.some((pattern) => pattern.test(message))) {
    return true;
  }
  if (Array.isArray(errors) && errors.some((inner) => isConnectionError(inner, depth + 1))) {
    return true;
  }
  return cause !== undefined && isConnectionError(cause, depth + 1);
}

/**
 * Start-up could not open the database. The message is one line that names the server
 * and the cause and says what to check, for `taskwire serve`/`worker`/`migrate` to print
 * instead of a stack trace. It never contains the password.
 */
export class DatabaseConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseConnectError';
  }
}

/**
 * Errors that waiting will not fix (a wrong database name, user or password), with what to
 * check. They are not connection errors: start-up reports them at once.
 */
const PERMANENT_SQLSTATES: Record<string, string> = {
  '3D000': 'check the database name at the end of DATABASE_URL (create it, or fix the URL)',
  '28P01':
    "check the user and password in DATABASE_URL (Supabase: the project's database password)",
  '28000': 'check the user in DATABASE_URL and that pg_hba.conf lets it connect from this host',
};

/** Where a connection string points, without its password. */
export function describeTarget(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default)';
    const user = url.username ? ` as user "${decodeURIComponent(url.username)}"` : '';
    return `${url.hostname || 'localhost'}:${url.port || '5432'}, database "${database}"${user}`;
  } catch {
    return 'the server in DATABASE_URL';
  }
}

/** The driver's message for `error`, the first of an AggregateError's when it has none. */
function causeOf(error: unknown): string {
  const { message, code, errors } = error as { message?: string; code?: string; errors?: unknown };
  if (message) return code && !message.includes(code) ? `${message} (${code})` : message;
  if (Array.isArray(errors) && errors.length > 0) return causeOf(errors[0]);
  return code ?? String(error);
}

/** The one-line report of a failed start-up connection; see DatabaseConnectError. */
export function connectFailure(
  connectionString: string,
  error: unknown,
  waitedMs: number,
): DatabaseConnectError {
  const code = (error as { code?: unknown }).code;
  const advice =
    (typeof code === 'string' ? PERMANENT_SQLSTATES[code] : undefined) ??
    (code === '57P03'
      ? 'the server is starting up, shutting down or in recovery: wait for it, or check its logs'
      : 'check that Postgres is running and that the host and port in DATABASE_URL are right and reachable from here (firewall, VPN, Supabase pooler)');
  const waited =
    waitedMs > 0 ? ` after retrying for ${Number((waitedMs / 1000).toFixed(1))} s` : '';
  return new DatabaseConnectError(
    `Cannot connect to the database at ${describeTarget(connectionString)}${waited}: ${causeOf(error).replaceAll(/\s+/g, ' ')}. To fix: ${advice}.`,
    { cause: error },
  );
}
