/**
 * The dirty set of one target: the paths watch events (and unfinished work) asked the loop to
 * look at, deep or not, and when they were hinted. The debounce decisions are core/debounce.ts;
 * this keeps the times they need and hands a cycle its settled scopes.
 */
import { flushDelayWithClosed, unsettledPaths, type PathHintTimes } from '../core/debounce.ts';
import type { Scope } from '../core/scope.ts';

interface DirtyPath extends PathHintTimes {
  readonly deep: boolean;
}

/** The scopes a flush takes, and the paths it leaves for later (still being written). */
export interface TakenScopes {
  readonly scopes: Scope[];
  readonly unsettled: ReadonlySet<string>;
  /** When nothing was settled: milliseconds until the first held path settles. */
  readonly settlesInMs: number;
  /** When the oldest hint of this batch came (for the lag figure). */
  readonly batchStartedAt: number;
}

export class DirtySet {
  /**
   * Dirty paths: deep or not, and when they were hinted (see unsettledPaths). A path put back
   * after a failure keeps the times it had, or gets 0: settled.
   */
  private readonly paths = new Map<string, DirtyPath>();
  private firstHintAt = 0;
  private lastHintAt = 0;
  /** Dirty paths whose latest hint was a file closed after writing (see core/debounce.ts). */
  private closedCount = 0;

  get size(): number {
    return this.paths.size;
  }

  /** Marks paths dirty because events came in at `now`. */
  hint(scopes: readonly Scope[], now: number): void {
    if (this.paths.size === 0) this.firstHintAt = now;
    this.lastHintAt = now;
    for (const s of scopes) {
      const was = this.paths.get(s.path);
      const closed = s.closed === true;
      if (closed && !was?.closed) this.closedCount++;
      else if (!closed && was?.closed) this.closedCount--;
      this.paths.set(s.path, { deep: (was?.deep ?? false) || s.deep, first: was?.first || now, last: now, closed });
    }
  }

  /** Puts paths back that a cycle did not finish (they count as settled). */
  requeue(scopes: readonly Scope[], now: number): void {
    if (this.paths.size === 0) this.firstHintAt = now;
    for (const s of scopes) {
      const was = this.paths.get(s.path);
      if (was?.closed) this.closedCount--;
      this.paths.set(s.path, { deep: (was?.deep ?? false) || s.deep, first: was?.first ?? 0, last: was?.last ?? 0 });
    }
  }

  /** How long to wait from `now` before a flush (core/debounce.ts). */
  flushDelay(now: number, debounceMs: number, debounceMaxMs: number): number {
    return flushDelayWithClosed(now, { firstHintAt: this.firstHintAt, lastHintAt: this.lastHintAt }, this.closedCount > 0, debounceMs, debounceMaxMs);
  }

  /**
   * Takes the settled paths out for a cycle. A flush forced by debounceMaxMs in the middle of
   * a burst leaves out the paths still being written; they stay dirty for the next flush.
   */
  take(now: number, debounceMs: number, debounceMaxMs: number): TakenScopes {
    const unsettled = unsettledPaths(this.paths, now, debounceMs, debounceMaxMs);
    const scopes = [...this.paths].filter(([path]) => !unsettled.paths.has(path)).map(([path, { deep }]) => ({ path, deep }));
    for (const s of scopes) {
      if (this.paths.get(s.path)?.closed) this.closedCount--;
      this.paths.delete(s.path);
    }
    return { scopes, unsettled: unsettled.paths, settlesInMs: unsettled.settlesInMs, batchStartedAt: this.firstHintAt };
  }

  /**
   * A cycle over a batch ended at `now`. Changes that arrived during the cycle keep their age
   * for the lag figure. True when paths are still dirty.
   */
  afterCycle(batchStartedAt: number, now: number): boolean {
    if (this.paths.size > 0) {
      this.firstHintAt = Math.min(this.firstHintAt || now, batchStartedAt || now);
      return true;
    }
    this.firstHintAt = 0;
    return false;
  }

  /** Age in ms of the oldest change not yet on the target (0 when idle). */
  lagMs(now: number, running: boolean): number {
    return this.paths.size > 0 || running ? now - (this.firstHintAt || now) : 0;
  }
}
