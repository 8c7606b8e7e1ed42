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

/** When one path was hinted: first since it was last flushed, and most recently. */
export interface PathHintTimes {
  readonly first: number;
  readonly last: number;
  /**
   * Its latest hint was a file closed after writing (IN_CLOSE_WRITE, from the inotify
   * watcher): done being written, so it is never held and needs no quiet window.
   */
  readonly closed?: boolean;
}

/**
 * When some dirty path is closed after writing, the flush comes at once (0): that path is
 * complete, and waiting `quietMs` would only add latency. Paths still being written are held
 * by `unsettledPaths` as before, so they keep their quiet window. Otherwise `flushDelay`.
 */
export function flushDelayWithClosed(now: number, times: DebounceTimes, closedPending: boolean, quietMs: number, maxMs: number): number {
  return closedPending ? 0 : flushDelay(now, times, quietMs, maxMs);
}

export interface Unsettled {
  /** Paths to leave out of this flush: hinted within the last `quietMs`. */
  readonly paths: ReadonlySet<string>;
  /** Milliseconds from `now` until the first of them has been quiet for `quietMs` (0 if none). */
  readonly settlesInMs: number;
}

/**
 * Which paths are still being written when a flush comes. A flush forced by `maxMs` in the
 * middle of a burst otherwise finds the file the writer is at, created but not yet written,
 * and publishes it empty, then again when it is written: a wasted upload, and an empty file
 * on the server in between. inotify's IN_CLOSE_WRITE tells for sure: a path whose latest hint
 * was a close after writing is never held. fs.watch does not expose it; there a path hinted
 * within the last `quietMs` is the next best sign.
 *
 * A path hinted for the first time `maxMs` or more ago is never held, so a file that keeps
 * changing (a growing log) is still sent every `maxMs`. After a quiet flush nothing is held:
 * every hint is at least `quietMs` old by then.
 */
export function unsettledPaths(hints: Iterable<readonly [string, PathHintTimes]>, now: number, quietMs: number, maxMs: number): Unsettled {
  const paths = new Set<string>();
  let settlesAt = Infinity;
  for (const [path, t] of hints) {
    if (t.closed === true || now - t.last >= quietMs || now - t.first >= maxMs) continue;
    paths.add(path);
    settlesAt = Math.min(settlesAt, t.last + quietMs);
  }
  return { paths, settlesInMs: paths.size === 0 ? 0 : Math.max(1, settlesAt - now) };
}
