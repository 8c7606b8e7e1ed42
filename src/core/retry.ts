/**
 * Exponential backoff with full jitter (AWS's recipe): the n-th retry waits a random time in
 * [base·2ⁿ/2, base·2ⁿ], capped. `random` is injected so tests are deterministic.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const OP_RETRY: BackoffPolicy = { baseMs: 100, maxMs: 2_000 };
export const TARGET_RETRY: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000 };
/** A rejected login or host key waits long between attempts: bounded attempts per minute. */
export const PAUSED_RETRY: BackoffPolicy = { baseMs: 30_000, maxMs: 300_000 };

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Whether a target-wide failure is worth a log line of its own: the first one after success
 * (ok → retrying) or one of a different kind than the last (E_NO_SPACE, then E_CONNECTION).
 * Repeats of the same failure are only counted (debug).
 */
export function announceFailure(failuresBefore: number, lastCode: string | undefined, code: string): boolean {
  return failuresBefore === 0 || lastCode !== code;
}
