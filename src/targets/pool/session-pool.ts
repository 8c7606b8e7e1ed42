/**
 * One connection pool for the network backends: at most `size` sessions, each running one
 * operation at a time, opened lazily (or all at once for bulk work: `prewarm`) and reused,
 * never one login per file. A backend hands it a small `SessionFactory` (how to open a
 * session, and what a session must finish alone before it idles); the pool owns the policy:
 *
 *   - Every operation has a deadline (a library's own timeout usually measures inactivity
 *     only): past it the session is closed and the call rejects with E_TIMEOUT.
 *   - A session that died (closed, E_CONNECTION, E_TIMEOUT) is dropped; an idempotent
 *     operation is retried once on a fresh session (not after a timeout: a fresh session over
 *     the same silent path would wait as long; the engine retries the target).
 *   - Opening is paced (pacer.ts): a few attempts with jittered backoff; when all fail, calls
 *     fail fast with that error for a cool-down instead of each hammering a dead server.
 *     Not after a timeout: that attempt already waited timeoutMs while `status` said ok.
 *   - An error whose scope is 'pause' (a rejected login, an unverifiable host key or
 *     certificate, wrong settings: errors.ts decides which) is latched: every call rejects
 *     with it, without contacting the server, until `reset()` (Target.connect()).
 *   - A server that caps sessions per client answers an extra login with a refusal while the
 *     others are alive: the pool shrinks to what the server accepted and tries to grow again
 *     after `regrowAfterMs`, instead of failing operations.
 *
 * `stats()` says how the pool is doing, for `status` and for tests.
 */
import { quotePath } from '../../core/names.ts';
import type { BackoffPolicy } from '../../core/retry.ts';
import { TargetError } from '../errors.ts';
import { Pacer } from './pacer.ts';

/** What the pool needs of a session. */
export interface PooledSession {
  /** True once the connection is gone (the pool then drops the session). */
  readonly closed: boolean;
  /** Cut the connection (idempotent); pending work on it rejects. */
  close(): void;
}

/** How a backend's sessions are made. */
export interface SessionFactory<S extends PooledSession> {
  /** For messages: e.g. "the FTP target". */
  readonly what: string;
  /** Open one logged-in session; rejects with a TargetError. */
  open(): Promise<S>;
  /**
   * Work the session must finish before it idles when nobody takes it now (FTP: commands
   * deferred to ride with the next use); undefined when there is none.
   */
  settle?(session: S): Promise<void> | undefined;
}

export interface SessionPoolOptions {
  /** The most sessions open at once. */
  readonly size: number;
  /** Spacing of open attempts (default: 200–400 ms, then 400–800 ms). */
  readonly openRetry?: BackoffPolicy;
  /** Open attempts, the first included (default 3). */
  readonly openAttempts?: number;
  /** After all open attempts failed, calls fail fast with that error for this long (default 1 s). */
  readonly coolDownMs?: number;
  /** After the server refused an extra session, wait this long before trying to grow (default 30 s). */
  readonly regrowAfterMs?: number;
}

export interface RunOptions {
  /** Safe to run twice (after a lost connection the call is retried once). */
  readonly idempotent: boolean;
  /** Overall deadline for one attempt, ms. */
  readonly deadlineMs: number;
  /** For messages: what and on which path. */
  readonly label: string;
  readonly path: string;
}

/** A snapshot of the pool, for `status` and tests. */
export interface PoolStats {
  /** Current ceiling: `size`, or lower after the server refused sessions. */
  readonly limit: number;
  readonly idle: number;
  readonly busy: number;
  readonly opening: number;
  /** Operations waiting for a session. */
  readonly waiting: number;
  /** Since start: sessions opened, open attempts that failed, operations retried, deadlines hit. */
  readonly opened: number;
  readonly openFailures: number;
  readonly retried: number;
  readonly timedOut: number;
  /** The latched error's code while the pool is paused (scope 'pause'). */
  readonly paused: string | undefined;
}

type Waiter<S> = { resolve: (s: S | undefined) => void; reject: (e: unknown) => void };

export const DEFAULT_OPEN_RETRY: BackoffPolicy = { baseMs: 200, maxMs: 800 };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The session is gone or silent: the call may be retried on another one. */
function isConnectionLoss(err: TargetError): boolean {
  return err.code === 'E_CONNECTION' || err.code === 'E_TIMEOUT';
}

export class SessionPool<S extends PooledSession> {
  private readonly idle: S[] = [];
  private readonly busy = new Set<S>();
  private readonly waiters: Waiter<S>[] = [];
  /** Sessions being opened right now (they count against the limit). */
  private opening = 0;
  private limit: number;
  private regrowAt = 0;
  private latched: TargetError | undefined;
  private closed = false;
  private readonly pacer: Pacer;
  private readonly regrowAfterMs: number;
  private counts = { opened: 0, openFailures: 0, retried: 0, timedOut: 0 };

  constructor(
    private readonly factory: SessionFactory<S>,
    private readonly options: SessionPoolOptions,
  ) {
    this.limit = options.size;
    this.pacer = new Pacer({ retry: options.openRetry ?? DEFAULT_OPEN_RETRY, attempts: options.openAttempts ?? 3, coolDownMs: options.coolDownMs ?? 1000 });
    this.regrowAfterMs = options.regrowAfterMs ?? 30_000;
  }

  /** Sessions alive or being opened. */
  get live(): number {
    return this.idle.length + this.busy.size + this.opening;
  }

  stats(): PoolStats {
    return {
      limit: this.limit,
      idle: this.idle.length,
      busy: this.busy.size,
      opening: this.opening,
      waiting: this.waiters.length,
      ...this.counts,
      paused: this.latched?.code,
    };
  }

  /** Forget a latched refusal and the cool-down (an explicit reconnect). */
  reset(): void {
    this.latched = undefined;
    this.pacer.clear();
    this.closed = false;
    this.limit = this.options.size;
  }

  /**
   * Start opening sessions up to the limit (see Target.prewarm). Each goes to a waiter or
   * the idle list when it is up; a refusal shrinks the limit as on demand; errors are left to
   * the next use.
   */
  prewarm(): void {
    if (this.closed || this.latched || this.pacer.cooling) return;
    while (this.live < this.limit) {
      // openOne counts itself in `live` before its first await, so this loop ends.
      this.openOne().then(
        (session) => {
          if (session) this.release(session, true);
        },
        () => undefined,
      );
    }
  }

  /** Run `fn` with a session of its own, under a deadline, retrying once when allowed. */
  async run<T>(fn: (session: S) => Promise<T>, options: RunOptions): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const session = await this.acquire();
      let lost = false;
      try {
        return await this.withDeadline(session, fn, options);
      } catch (err) {
        const te = err instanceof TargetError ? err : new TargetError('E_PROTOCOL', `${options.label} ${quotePath(options.path)}: ${String(err)}`, { path: options.path, cause: err });
        lost = session.closed || isConnectionLoss(te);
        if (lost && te.code !== 'E_TIMEOUT' && options.idempotent && attempt === 0 && !this.closed) {
          this.counts.retried++;
          continue;
        }
        throw te;
      } finally {
        this.release(session, !lost && !session.closed);
      }
    }
  }

  private async withDeadline<T>(session: S, fn: (s: S) => Promise<T>, options: RunOptions): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const work = fn(session);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.counts.timedOut++;
        // Closing makes the session's pending work reject; that rejection is ours to swallow.
        session.close();
        reject(new TargetError('E_TIMEOUT', `${options.label} ${quotePath(options.path)}: no result within ${options.deadlineMs} ms`, { path: options.path }));
      }, options.deadlineMs);
    });
    work.catch(() => undefined);
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async acquire(): Promise<S> {
    while (true) {
      if (this.closed) throw new TargetError('E_CONNECTION', `${this.factory.what} is closed`);
      if (this.latched) throw this.latched;
      const ready = this.idle.pop();
      if (ready) {
        if (ready.closed) continue; // died while idle (server restart, idle timeout)
        this.busy.add(ready);
        return ready;
      }
      if (this.limit < this.options.size && Date.now() >= this.regrowAt && this.live >= this.limit) this.limit++;
      if (this.live < this.limit) {
        const fresh = await this.openOne();
        if (fresh) return fresh;
        continue; // refused as an extra session: the limit shrank, wait below next round
      }
      const handed = await new Promise<S | undefined>((resolve, reject) => this.waiters.push({ resolve, reject }));
      if (handed) {
        this.busy.add(handed);
        return handed;
      }
      // undefined: a slot was freed (a session died): loop and open one.
    }
  }

  /** Open a session; undefined when the server refused an extra one while others are alive. */
  private async openOne(): Promise<S | undefined> {
    const cooling = this.pacer.cooling;
    if (cooling) throw cooling;
    this.opening++;
    let last: TargetError | undefined;
    try {
      for (let attempt = 0; attempt < this.pacer.attempts; attempt++) {
        if (attempt > 0) await sleep(this.pacer.delayBefore(attempt));
        if (this.closed) throw new TargetError('E_CONNECTION', `${this.factory.what} is closed`);
        if (this.latched) throw this.latched;
        try {
          const session = await this.factory.open();
          if (this.closed) {
            session.close();
            throw new TargetError('E_CONNECTION', `${this.factory.what} is closed`);
          }
          this.busy.add(session);
          this.counts.opened++;
          this.pacer.clear();
          return session;
        } catch (err) {
          if (this.closed) throw err;
          this.counts.openFailures++;
          last = err instanceof TargetError ? err : new TargetError('E_CONNECTION', `connect: ${String(err)}`, { cause: err });
          if (last.scope === 'pause') {
            this.latched = last;
            this.failWaiters(last);
            throw last;
          }
          if (last.code === 'E_TIMEOUT') break;
          const others = this.idle.length + this.busy.size + this.opening - 1;
          if (others > 0) {
            // The server is up for the others: most likely it caps sessions per client.
            this.limit = Math.max(1, others);
            this.regrowAt = Date.now() + this.regrowAfterMs;
            return undefined;
          }
        }
      }
      const err = last ?? new TargetError('E_CONNECTION', 'connect failed');
      this.pacer.gaveUp(err);
      throw err;
    } finally {
      this.opening--;
      if (this.live === 0 && this.waiters.length > 0) {
        const why = this.latched ?? this.pacer.cooling;
        if (why) this.failWaiters(why);
      }
    }
  }

  private failWaiters(err: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private release(session: S, healthy: boolean): void {
    this.busy.delete(session);
    if (!healthy || this.closed) {
      session.close();
      // A slot is free: let the first waiter open a replacement.
      this.waiters.shift()?.resolve(undefined);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.resolve(session);
      return;
    }
    const settling = this.factory.settle?.(session);
    if (settling === undefined) {
      this.idle.push(session);
      return;
    }
    // Nobody takes the session now: it finishes its own work alone, then is released again.
    this.busy.add(session);
    settling.then(
      () => this.release(session, !session.closed),
      () => this.release(session, false),
    );
  }

  /** Close every session and fail whoever waits. Busy sessions are cut. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.idle.splice(0)) s.close();
    for (const s of this.busy) s.close();
    this.failWaiters(new TargetError('E_CONNECTION', `${this.factory.what} is closed`));
  }
}
