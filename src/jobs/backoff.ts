/**
 * Delay before attempt `attempt + 1`: exponential from `baseMs`, with ±20 % jitter so
 * messages that failed together (an outage) do not all retry in the same instant.
 * With the default 40 s base: ~40 s, 80 s, 160 s, 320 s — about 10 minutes over 5 attempts.
 */
export function retryDelayMs(attempt: number, baseMs: number, random = Math.random): number {
  const exponential = baseMs * 2 ** Math.max(0, attempt - 1);
  return Math.round(exponential * (0.8 + 0.4 * random()));
}
