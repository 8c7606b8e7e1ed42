/**
 * How often a pool may try to open a connection: a bounded number of attempts, spaced by
 * exponential backoff with jitter (core/retry.ts, so every backend backs off the same way),
 * and a cool-down after the last one failed, during which callers fail fast with that error
 * instead of each trying again (the engine's own backoff takes over from there).
 */
import { backoffDelay, type BackoffPolicy } from '../../core/retry.ts';

export interface PacerOptions {
  /** Spacing of attempts: the n-th retry waits a jittered time below base·2ⁿ, capped. */
  readonly retry: BackoffPolicy;
  /** Attempts per open, the first included (≥ 1). */
  readonly attempts: number;
  /** After every attempt failed, calls fail fast for this long (ms). */
  readonly coolDownMs: number;
  /** Injected for deterministic tests. */
  readonly random?: () => number;
  readonly now?: () => number;
}

export class Pacer {
  private coldUntil = 0;
  private coldError: Error | undefined;

  constructor(private readonly o: PacerOptions) {}

  get attempts(): number {
    return Math.max(1, this.o.attempts);
  }

  /** The wait before attempt `attempt` (0 is the first: no wait). */
  delayBefore(attempt: number): number {
    return attempt <= 0 ? 0 : backoffDelay(attempt, this.o.retry, this.o.random);
  }

  /** The error to fail with at once while cooling down, else undefined. */
  get cooling(): Error | undefined {
    return this.coldError !== undefined && (this.o.now ?? Date.now)() < this.coldUntil ? this.coldError : undefined;
  }

  /** Every attempt failed with `err`: cool down. */
  gaveUp(err: Error): void {
    this.coldUntil = (this.o.now ?? Date.now)() + this.o.coolDownMs;
    this.coldError = err;
  }

  /** A connection opened, or the operator asked again: no cool-down. */
  clear(): void {
    this.coldUntil = 0;
    this.coldError = undefined;
  }
}
