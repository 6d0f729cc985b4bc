export interface ShutdownLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ShutdownOptions {
  /**
   * How long stopping may take before the process gives up and exits 1. Under the 30 s
   * most platforms (Docker, Railway, Kubernetes) wait between SIGTERM and SIGKILL, so a
   * stuck shutdown is reported as a failure instead of ending in a silent kill.
   */
  timeoutMs?: number;
  /** Default process.exit; tests pass their own. */
  exit?: (code: number) => void;
  /** Default process; tests pass an EventEmitter. */
  signals?: Pick<NodeJS.Process, 'on'>;
}

export const SHUTDOWN_TIMEOUT_MS = 25_000;

/**
 * Graceful shutdown on SIGTERM/SIGINT: `stop()` (stop accepting requests, finish the ones
 * in flight, let running jobs finish or hand them back, close the database), then exit 0.
 * Exits 1 if stopping fails or outlasts `timeoutMs`; a second signal exits 1 at once.
 */
export function stopOnSignals(
  log: ShutdownLog,
  stop: () => Promise<void>,
  options: ShutdownOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? SHUTDOWN_TIMEOUT_MS;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? process;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.error({ signal }, 'second signal while shutting down: exiting now');
      exit(1);
      return;
    }
    stopping = true;
    log.info({ signal, timeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown took too long: exiting without finishing');
      exit(1);
    }, timeoutMs);
    void stop().then(
      () => {
        clearTimeout(timer);
        log.info({}, 'stopped');
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(timer);
        log.error({ err: error }, 'shutdown failed');
        exit(1);
      },
    );
  };
  signals.on('SIGTERM', () => shutdown('SIGTERM'));
  signals.on('SIGINT', () => shutdown('SIGINT'));
}
