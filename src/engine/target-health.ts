/**
 * The health of one target as the per-target loop (target-sync.ts) sees it: its state for
 * `status`, the reason and last error, and the count of target-wide failures in a row that
 * drives the backoff (core/retry.ts). It logs one line per change of state, not one per retry.
 */
import { announceFailure, backoffDelay, PAUSED_RETRY, TARGET_RETRY } from '../core/retry.ts';
import type { Logger } from '../log/logger.ts';
import { isTargetError, type TargetError } from '../targets/errors.ts';

export type TargetState = 'starting' | 'ok' | 'retrying' | 'paused' | 'halted' | 'stopped';

export interface LastError {
  readonly message: string;
  readonly at: string;
}

export class TargetHealth {
  state: TargetState = 'starting';
  reason: string | undefined;
  lastError: LastError | undefined;
  /** Target-wide failures in a row; reset only when a cycle succeeds (see recovered). */
  failures = 0;
  /** The code of the last target-wide failure, to log a new kind of failure once. */
  private failureCode: string | undefined;
  /** The root vanished and that was logged (once, not at every retry). */
  rootGoneLogged = false;
  /** Failures since start by error code: per-path ones (countError) and target-wide ones (down). */
  readonly errorCounts = new Map<string, number>();
  /** Date.now() at the end of the last cycle that reached the target (recovered). */
  lastSyncAt: number | undefined;

  constructor(private readonly logger: Logger) {}

  noteError(message: string): void {
    this.lastError = { message, at: new Date().toISOString() };
  }

  /** Counts a failure by its code (metrics: sync_inotify_errors_total). */
  countError(err: unknown): void {
    const code = isTargetError(err) ? err.code : 'E_UNKNOWN';
    this.errorCounts.set(code, (this.errorCounts.get(code) ?? 0) + 1);
  }

  /**
   * A cycle ended without a target-wide failure: the target works. The failure count (and so
   * the backoff) resets only here, never on a mere reconnect; one line says so.
   */
  recovered(): void {
    if (this.failures > 0) this.logger.info(`target is reachable again (after ${this.failures} failed attempt${this.failures === 1 ? '' : 's'})`);
    this.failures = 0;
    this.failureCode = undefined;
    this.reason = undefined;
    this.lastSyncAt = Date.now();
    if (this.state !== 'stopped') this.state = 'ok';
  }

  /** The first op to find the target down shows it in `status` at once (down() follows). */
  showDown(err: TargetError): void {
    this.state = err.scope === 'pause' ? 'paused' : 'retrying';
    this.reason = err.message;
    this.noteError(err.message);
  }

  /**
   * A target-wide failure: counts it, sets the state (paused for an auth or host-key refusal,
   * retrying otherwise), logs it when it is news, and returns how long to wait before the
   * next attempt and whether the target root is gone (nothing recorded can be trusted).
   */
  down(error: Error): { delay: number; rootGone: boolean } {
    const pause = isTargetError(error) && error.scope === 'pause';
    const code = isTargetError(error) ? error.code : 'E_UNKNOWN';
    const announce = announceFailure(this.failures, this.failureCode, code);
    const rootGone = isTargetError(error) && error.code === 'E_ROOT_GONE';
    this.failures++;
    this.failureCode = code;
    this.countError(error);
    const delay = backoffDelay(this.failures - 1, pause ? PAUSED_RETRY : TARGET_RETRY);
    this.state = pause ? 'paused' : 'retrying';
    this.reason = error.message;
    this.noteError(error.message);
    const line = `${pause ? 'paused' : 'target unavailable'}: ${error.message}; retrying in ${(delay / 1000).toFixed(1)} s (changes are kept)`;
    if (rootGone) {
      // One line while it stays gone (an unmounted disk can stay away for hours).
      if (this.rootGoneLogged) this.logger.debug(line);
      else this.logger.error(line);
      this.rootGoneLogged = true;
    } else if (announce) {
      // One line per change of state (ok → retrying, or a different kind of failure); the
      // attempts in between go to debug, so a disk full for a day is not a log line per retry.
      this.logger.error(line);
    } else {
      this.logger.debug(`${line}; attempt ${this.failures}`);
    }
    return { delay, rootGone };
  }

  /** A verification found the target root gone (the store is distrusted by the caller). */
  rootVanished(): void {
    this.state = 'retrying';
    if (!this.rootGoneLogged) this.logger.error(`the target root is gone: it is created again (or waited for) and the mirror rebuilt`);
    this.rootGoneLogged = true;
  }
}
