/**
 * Per-path failure backoff (README: Errors and retries). A path whose operation the target
 * refused for that path alone (error scope 'path': permission denied, something in the way, a
 * link on the way; or the source file could not be read) waits before its next attempt, longer
 * each time it fails again, while every other path keeps flowing. A failure of the target as
 * a whole (connection, timeout, full disk) is not decided here: the target backs off
 * (engine/target-health.ts), and a per-operation failure of a transient kind still spaces the
 * target's cycles (it says the target struggles, not this path).
 *
 * Pure: the engine hands in what a cycle did and when, and gets the new table and the paths
 * to look at later.
 */
import { backoffDelay, type BackoffPolicy } from './retry.ts';

/** The n-th failure of one path in a row waits a jittered time below 1 s · 2ⁿ, at most a minute. */
export const PATH_RETRY: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000 };

/** Whether a failure is the path's alone or says something about the whole target. */
export type FailureReach = 'path' | 'target';

/**
 * `scope` is the TargetError's scope, undefined for a failure that is not the target's (the
 * source file could not be read: this path only).
 */
export function failureReach(scope: string | undefined): FailureReach {
  return scope === undefined || scope === 'path' ? 'path' : 'target';
}

export interface PathBackoff {
  /** Failures in a row. */
  readonly failures: number;
  /** Date.now() before which the path is not tried again (unless it changes meanwhile). */
  readonly retryAt: number;
}

export interface CycleOutcome {
  /** Paths whose operation succeeded this cycle. */
  readonly done: readonly string[];
  /** Operations that failed and are to be tried again, with their error's scope. */
  readonly failed: readonly { readonly path: string; readonly scope: string | undefined }[];
}

export interface PathBackoffDecision {
  readonly table: Map<string, PathBackoff>;
  /** Failed paths that wait on their own: not looked at again before their retryAt. */
  readonly later: readonly { readonly path: string; readonly retryAt: number }[];
  /** Failures that say the target struggles (transient after the operation's own retries). */
  readonly targetWide: number;
}

/**
 * The table after a cycle: a success clears the path; a per-path failure counts one more and
 * sets the next attempt; an entry whose wait ended a whole PATH_RETRY.maxMs ago without a new
 * failure is forgotten (the path was fixed, removed, or succeeded through another operation).
 */
export function nextPathBackoff(prev: ReadonlyMap<string, PathBackoff>, outcome: CycleOutcome, now: number, random: () => number = Math.random, policy: BackoffPolicy = PATH_RETRY): PathBackoffDecision {
  const table = new Map<string, PathBackoff>();
  for (const [path, b] of prev) if (now <= b.retryAt + policy.maxMs) table.set(path, b);
  for (const path of outcome.done) table.delete(path);
  const later: { path: string; retryAt: number }[] = [];
  let targetWide = 0;
  for (const f of outcome.failed) {
    if (failureReach(f.scope) === 'target') {
      targetWide++;
      continue;
    }
    const failures = (table.get(f.path)?.failures ?? 0) + 1;
    const retryAt = now + backoffDelay(failures - 1, policy, random);
    table.set(f.path, { failures, retryAt });
    later.push({ path: f.path, retryAt });
  }
  return { table, later, targetWide };
}
