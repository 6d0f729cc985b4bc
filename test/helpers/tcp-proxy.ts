import net from 'node:net';
import pg from 'pg';

/**
 * A TCP proxy in front of the test Postgres server, on a port of its own: `cut()` drops
 * every connection through it and refuses new ones (the database "goes away", as in a
 * restart or a failover), `restore()` accepts them again on the same port.
 */
export interface TcpProxy {
  port: number;
  /** `connectionString` with its host and port replaced by the proxy's. */
  url(connectionString: string): string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(
  target: { host: string; port: number },
  options: { listen?: boolean; port?: number } = {},
): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = options.port ?? 0;

  const listen = async () => {
    const next = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    port = (next.address() as net.AddressInfo).port;
    server = next;
  };
  const stop = async () => {
    const current = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
  };

  if (options.listen !== false) await listen();
  return {
    get port() {
      return port;
    },
    url(connectionString) {
      const url = new URL(connectionString);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    cut: stop,
    restore: listen,
    close: stop,
  };
}

/** Host and port of a connection string, as a proxy's target. */
export function targetOf(connectionString: string): { host: string; port: number } {
  const url = new URL(connectionString);
  return { host: url.hostname || '127.0.0.1', port: Number(url.port || 5432) };
}

/**
 * `pg_terminate_backend` for every connection to one test database (never another's), as
 * the server does at a restart; returns how many it ended.
 */
export async function terminateBackends(adminUrl: string, databaseUrl: string): Promise<number> {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const result = await admin.query<{ ended: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [name],
    );
    return result.rows.filter((row) => row.ended).length;
  } finally {
    await admin.end();
  }
}
