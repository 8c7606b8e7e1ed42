/**
 * Debounce as a function of time only: gather hints until the source has been quiet for
 * `quietMs`, but never hold the first hint longer than `maxMs` (so a file that keeps growing
 * is still sent). Returns how long to wait from `now` before flushing (0 = flush now).
 */
export interface DebounceTimes {
  readonly firstHintAt: number;
  readonly lastHintAt: number;
}

export function flushDelay(now: number, times: DebounceTimes, quietMs: number, maxMs: number): number {
  const quietEnds = times.lastHintAt + quietMs;
  const capEnds = times.firstHintAt + maxMs;
  return Math.max(0, Math.min(quietEnds, capEnds) - now);
}
