import { performance } from 'node:perf_hooks';

/**
 * How busy this process's event loop has been lately: the share of the last interval it
 * spent running JavaScript (and, on PGlite, the database) rather than waiting for I/O —
 * Node's event-loop utilization. Lets background work give way only when the process is
 * actually short of CPU, not merely waiting on a slow database.
 */
export interface EventLoopLoad {
  /** True while the last interval's utilization was at or above the threshold. */
  saturated(): boolean;
  /** The last interval's utilization, 0 to 1. */
  utilization(): number;
  stop(): void;
}

export function watchEventLoopLoad(
  options: { intervalMs?: number; threshold?: number } = {},
): EventLoopLoad {
  const intervalMs = options.intervalMs ?? 100;
  const threshold = options.threshold ?? 0.7;
  let previous = performance.eventLoopUtilization();
  let utilization = 0;
  const timer = setInterval(() => {
    const current = performance.eventLoopUtilization();
    utilization = performance.eventLoopUtilization(current, previous).utilization;
    previous = current;
  }, intervalMs);
  timer.unref();
  return {
    saturated: () => utilization >= threshold,
    utilization: () => utilization,
    stop: () => clearInterval(timer),
  };
}
