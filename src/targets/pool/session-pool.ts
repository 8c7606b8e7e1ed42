/**
 * One connection pool for the network backends: at most `size` sessions, each running up to
 * `perSession` operations at once (1 for a protocol of one command at a time like FTP; more
 * for one that tags requests and pipelines them on one channel like SFTP), opened lazily (or
 * all at once for bulk work: `prewarm`) and reused, never one login per file. An operation
 * takes an unused session first, then opens a new one while under the limit, and only then
 * shares the least loaded session: load spreads over connections before it piles on one. A backend hands it a small `SessionFactory` (how to open a
 * session, and what a session must finish alone before it idles); the pool owns the policy:
 *
 *   - Every operation has a deadline (a library's own timeout usually measures inactivity
 *     only): past it the session is closed and the call rejects with E_TIMEOUT. A session
 *     that watches its own liveness (SFTP: no answer to any request for timeoutMs) runs
 *     operations without one (`deadlineMs` undefined) and closes itself.
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
  /** Close the connection (idempotent); pending work on it rejects. May finish politely later. */
  close(): void | Promise<void>;
}

/** How a backend's sessions are made. */
export interface SessionFactory<S extends PooledSession> {
  /** For messages: e.g. "the FTP target". */
  readonly what: string;
  /**
   * Open one logged-in session; rejects with a TargetError. `abort` fires when the pool is
   * closed meanwhile: a half-open connection should be cut rather than left unowned.
   */
  open(abort: AbortSignal): Promise<S>;
  /**
   * Work the session must finish before it idles when nobody takes it now (FTP: commands
   * deferred to ride with the next use); undefined when there is none.
   */
  settle?(session: S): Promise<void> | undefined;
}

export interface SessionPoolOptions {
  /** The most sessions open at once. */
  readonly size: number;
  /** Operations one session carries at once (default 1; a pipelining protocol: more). */
  readonly perSession?: number;
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
  /** Overall deadline for one attempt, ms; undefined when the session watches its own liveness. */
  readonly deadlineMs: number | undefined;
  /** For messages: what and on which path. */
  readonly label: string;
  readonly path: string;
}

/** A snapshot of the pool, for `status` and tests. */
export interface PoolStats {
  /** Current ceiling: `size`, or lower after the server refused sessions. */
  readonly limit: number;
  /** Sessions open with nothing to do, with at least one operation, and being opened. */
  readonly idle: number;
  readonly busy: number;
  readonly opening: number;
  /** Operations running on a session now. */
  readonly running: number;
  /** Operations waiting for a session. */
  readonly waiting: number;
  /**
   * Since start: sessions opened, of those the ones that replaced a session which died,
   * open attempts that failed, operations retried, deadlines hit.
   */
  readonly opened: number;
  readonly reconnects: number;
  readonly openFailures: number;
  readonly retried: number;
  readonly timedOut: number;
  /** The latched error's code while the pool is paused (scope 'pause'). */
  readonly paused: string | undefined;
}

/** A waiting operation: handed a session already counted for it, or undefined to look again. */
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
  /** Sessions with at least one operation, and how many each carries. */
  private readonly busy = new Map<S, number>();
  private readonly waiters: Waiter<S>[] = [];
  /** Sessions being opened right now (they count against the limit). */
  private opening = 0;
  private limit: number;
  private regrowAt = 0;
  private latched: TargetError | undefined;
  private closed = false;
  /** Cuts the opens in flight when the pool is closed. */
  private abort = new AbortController();
  private readonly pacer: Pacer;
  private readonly regrowAfterMs: number;
  private readonly perSession: number;
  /** Sessions that died and were not yet replaced (the next opens are reconnects). */
  private lostUnreplaced = 0;
  private counts = { opened: 0, reconnects: 0, openFailures: 0, retried: 0, timedOut: 0 };

  constructor(
    private readonly factory: SessionFactory<S>,
    private readonly options: SessionPoolOptions,
  ) {
    this.limit = options.size;
    this.perSession = Math.max(1, options.perSession ?? 1);
    this.pacer = new Pacer({ retry: options.openRetry ?? DEFAULT_OPEN_RETRY, attempts: options.openAttempts ?? 3, coolDownMs: options.coolDownMs ?? 1000 });
    this.regrowAfterMs = options.regrowAfterMs ?? 30_000;
  }

  /** Sessions alive or being opened. */
  get live(): number {
    return this.idle.length + this.busy.size + this.opening;
  }

  stats(): PoolStats {
    let running = 0;
    for (const n of this.busy.values()) running += n;
    return {
      limit: this.limit,
      idle: this.idle.length,
      busy: this.busy.size,
      opening: this.opening,
      running,
      waiting: this.waiters.length,
      ...this.counts,
      paused: this.latched?.code,
    };
  }

  /** Forget a latched refusal and the cool-down (an explicit reconnect). */
  reset(): void {
    this.latched = undefined;
    this.pacer.clear();
    if (this.closed) this.abort = new AbortController();
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

  /** Run `fn` on a session, under a deadline, retrying once when allowed. */
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
    const deadlineMs = options.deadlineMs;
    if (deadlineMs === undefined) return fn(session);
    let timer: NodeJS.Timeout | undefined;
    const work = fn(session);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.counts.timedOut++;
        // Closing makes the session's pending work reject; that rejection is ours to swallow.
        void Promise.resolve(session.close()).catch(() => undefined);
        reject(new TargetError('E_TIMEOUT', `${options.label} ${quotePath(options.path)}: no result within ${deadlineMs} ms`, { path: options.path }));
      }, deadlineMs);
    });
    work.catch(() => undefined);
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The least loaded live session that can take one more operation, if any. */
  private sharable(): S | undefined {
    if (this.perSession === 1) return undefined;
    let best: S | undefined;
    let load = this.perSession;
    for (const [s, n] of this.busy) {
      if (n < load && !s.closed) {
        best = s;
        load = n;
      }
    }
    return best;
  }

  private take(session: S): S {
    this.busy.set(session, (this.busy.get(session) ?? 0) + 1);
    return session;
  }

  private async acquire(): Promise<S> {
    while (true) {
      if (this.closed) throw new TargetError('E_CONNECTION', `${this.factory.what} is closed`);
      if (this.latched) throw this.latched;
      const ready = this.idle.pop();
      if (ready) {
        if (ready.closed) continue; // died while idle (server restart, idle timeout)
        return this.take(ready);
      }
      if (this.limit < this.options.size && Date.now() >= this.regrowAt && this.live >= this.limit) this.limit++;
      if (this.live < this.limit) {
        const fresh = await this.openOne();
        if (fresh) return fresh;
        continue; // refused as an extra session: the limit shrank, wait below next round
      }
      const shared = this.sharable();
      if (shared) return this.take(shared);
      const handed = await new Promise<S | undefined>((resolve, reject) => this.waiters.push({ resolve, reject }));
      if (handed) return handed; // counted for us by whoever handed it
      // undefined: a slot was freed (a session died or took on capacity): look again.
    }
  }

  /** Open a session (counted as carrying one operation); undefined when the server refused an extra one while others are alive. */
  private async openOne(): Promise<S | undefined> {
    const cooling = this.pacer.cooling;
    if (cooling) throw cooling;
    this.opening++;
    let last: TargetError | undefined;
    let failed: unknown;
    // The pool may be closed and reset (a reconnect) while this open is on its way: what
    // happens to this open then is not news about the server.
    const abort = this.abort.signal;
    const cut = () => this.closed || abort.aborted;
    try {
      for (let attempt = 0; attempt < this.pacer.attempts; attempt++) {
        if (attempt > 0) await sleep(this.pacer.delayBefore(attempt));
        if (cut()) throw new TargetError('E_CONNECTION', `${this.factory.what} is closed`);
        if (this.latched) throw this.latched;
        try {
          const session = await this.factory.open(abort);
          if (cut()) {
            void Promise.resolve(session.close()).catch(() => undefined);
            throw new TargetError('E_CONNECTION', `${this.factory.what} is closed`);
          }
          this.busy.set(session, 1);
          this.counts.opened++;
          if (this.lostUnreplaced > 0) {
            this.lostUnreplaced--;
            this.counts.reconnects++;
          }
          this.pacer.clear();
          // A session that carries several operations has room for waiters right away.
          if (this.perSession > 1) this.wakeWaiters(session);
          return session;
        } catch (err) {
          if (cut()) throw err;
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
      failed = err;
      throw err;
    } finally {
      this.opening--;
      // Nothing alive is left to hand them a session: whoever waits shares the failure
      // (the engine's backoff takes over) rather than each trying again.
      if (this.live === 0 && this.waiters.length > 0) {
        const why = this.latched ?? this.pacer.cooling ?? failed;
        if (why) this.failWaiters(why);
      }
    }
  }

  /** Hand `session` to waiters while it has room for more operations. */
  private wakeWaiters(session: S): void {
    while (this.waiters.length > 0 && !session.closed && (this.busy.get(session) ?? 0) < this.perSession) {
      this.take(session);
      this.waiters.shift()!.resolve(session);
    }
  }

  private failWaiters(err: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private release(session: S, healthy: boolean): void {
    const load = this.busy.get(session);
    if (load === undefined) {
      // Already dropped (another operation on it saw it die): only a slot may be free now.
      this.waiters.shift()?.resolve(undefined);
      return;
    }
    if (!healthy || this.closed) {
      // Every operation still on it fails on its own; the session leaves the pool now.
      this.busy.delete(session);
      void Promise.resolve(session.close()).catch(() => undefined);
      if (!this.closed) this.lostUnreplaced = Math.min(this.lostUnreplaced + 1, this.options.size);
      // A slot is free: let the first waiter open a replacement.
      this.waiters.shift()?.resolve(undefined);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      // The operation's share goes straight to the next one (the load stays).
      waiter.resolve(session);
      return;
    }
    if (load > 1) {
      this.busy.set(session, load - 1);
      return;
    }
    this.busy.delete(session);
    const settling = this.factory.settle?.(session);
    if (settling === undefined) {
      this.idle.push(session);
      return;
    }
    // Nobody takes the session now: it finishes its own work alone, then is released again.
    this.busy.set(session, 1);
    settling.then(
      () => this.release(session, !session.closed),
      () => this.release(session, false),
    );
  }

  /** Close every session (politely where the session knows how) and fail whoever waits. */
  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    const sessions = [...this.idle.splice(0), ...this.busy.keys()];
    this.busy.clear();
    this.failWaiters(new TargetError('E_CONNECTION', `${this.factory.what} is closed`));
    await Promise.all(sessions.map((s) => Promise.resolve(s.close()).catch(() => undefined)));
  }
}
