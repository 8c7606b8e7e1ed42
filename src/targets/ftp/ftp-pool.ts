/**
 * A pool of FTP sessions: one operation per session at a time (a basic-ftp Client breaks on
 * concurrent calls), at most `size` sessions, opened lazily and reused (never one login per
 * file).
 *
 * Failure policy, in one place:
 *   - Every operation has a deadline (basic-ftp's timeout only measures inactivity): past it
 *     the session is closed and the call rejects with E_TIMEOUT.
 *   - A session that died (reset, 421, timeout) is dropped; an idempotent operation is retried
 *     once on a fresh session (not after a timeout: the engine retries the target).
 *   - Opening retries with backoff (not after a timeout: that already took timeoutMs); when
 *     every attempt fails the pool rejects with the last error (E_CONNECTION, E_TIMEOUT) and
 *     stays cold for a short cool-down, so a queue of
 *     waiting operations fails fast instead of each hammering a dead server. The engine's own
 *     backoff takes over from there.
 *   - A rejected login (E_AUTH), an unverifiable certificate (E_HOST_KEY) or wrong settings
 *     (E_CONFIG) are never retried: the pool latches the error and rejects every call with it,
 *     without contacting the server, until `reset()` (called by Target.connect()).
 *   - A server that caps sessions per client (vsftpd max_per_ip, pure-ftpd -C) answers extra
 *     logins with 421: while other sessions are alive the pool shrinks to what the server
 *     accepted and tries to grow again later, instead of failing operations.
 */
import { TargetError } from '../errors.ts';
import { quotePath } from '../../core/names.ts';
import type { FtpSession } from './ftp-session.ts';
import { isConnectionLoss } from './translate-error.ts';

export interface FtpPoolOptions {
  readonly size: number;
  /** Opens a logged-in session; rejects with a TargetError. */
  readonly open: () => Promise<FtpSession>;
  /** Delays between open attempts (ms); the number of attempts is one more than its length. */
  readonly openBackoffMs?: readonly number[];
  /** After all open attempts failed, calls fail fast with that error for this long. */
  readonly coolDownMs?: number;
  /** After the server refused an extra session, wait this long before trying to grow. */
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

type Waiter = { resolve: (s: FtpSession | undefined) => void; reject: (e: unknown) => void };

const PAUSE_CODES = new Set(['E_AUTH', 'E_HOST_KEY', 'E_CONFIG']);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function jitter(ms: number): number {
  return Math.round(ms * (0.75 + Math.random() * 0.5));
}

export class FtpPool {
  private readonly idle: FtpSession[] = [];
  private readonly busy = new Set<FtpSession>();
  private readonly waiters: Waiter[] = [];
  /** Sessions being opened right now (they count against the limit). */
  private opening = 0;
  /** Current ceiling: `size`, or lower after the server refused sessions. */
  private limit: number;
  private regrowAt = 0;
  private latched: TargetError | undefined;
  private coldUntil = 0;
  private coldError: TargetError | undefined;
  private closed = false;
  private readonly backoff: readonly number[];
  private readonly coolDownMs: number;
  private readonly regrowAfterMs: number;

  constructor(private readonly options: FtpPoolOptions) {
    this.limit = options.size;
    this.backoff = options.openBackoffMs ?? [200, 800];
    this.coolDownMs = options.coolDownMs ?? 1000;
    this.regrowAfterMs = options.regrowAfterMs ?? 30_000;
  }

  /** Sessions alive or being opened. */
  get live(): number {
    return this.idle.length + this.busy.size + this.opening;
  }

  /** Forget a latched login/certificate failure and the cool-down (an explicit reconnect). */
  reset(): void {
    this.latched = undefined;
    this.coldUntil = 0;
    this.coldError = undefined;
    this.closed = false;
    this.limit = this.options.size;
  }

  /**
   * Start opening sessions up to the limit (see Target.prewarm). Each goes to a waiter or
   * the idle list when it is up; a refusal shrinks the limit as on demand; errors are left to
   * the next use.
   */
  prewarm(): void {
    if (this.closed || this.latched || Date.now() < this.coldUntil) return;
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
  async run<T>(fn: (session: FtpSession) => Promise<T>, options: RunOptions): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const session = await this.acquire();
      let lost = false;
      try {
        return await this.withDeadline(session, fn, options);
      } catch (err) {
        const te = err instanceof TargetError ? err : new TargetError('E_PROTOCOL', `${options.label} ${quotePath(options.path)}: ${String(err)}`, { path: options.path, cause: err });
        lost = session.closed || isConnectionLoss(te);
        // Not after a timeout: a fresh session over the same silent path would wait as long.
        if (lost && te.code !== 'E_TIMEOUT' && options.idempotent && attempt === 0 && !this.closed) continue;
        throw te;
      } finally {
        this.release(session, !lost && !session.closed);
      }
    }
  }

  private async withDeadline<T>(session: FtpSession, fn: (s: FtpSession) => Promise<T>, options: RunOptions): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const work = fn(session);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Closing makes basic-ftp reject the pending task; its rejection is ours to swallow.
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

  private async acquire(): Promise<FtpSession> {
    while (true) {
      if (this.closed) throw new TargetError('E_CONNECTION', 'the FTP target is closed');
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
      const handed = await new Promise<FtpSession | undefined>((resolve, reject) => this.waiters.push({ resolve, reject }));
      if (handed) {
        this.busy.add(handed);
        return handed;
      }
      // undefined: a slot was freed (a session died): loop and open one.
    }
  }

  /** Open a session; undefined when the server refused an extra one while others are alive. */
  private async openOne(): Promise<FtpSession | undefined> {
    if (Date.now() < this.coldUntil && this.coldError) throw this.coldError;
    this.opening++;
    let last: TargetError | undefined;
    try {
      for (let attempt = 0; attempt <= this.backoff.length; attempt++) {
        if (attempt > 0) await sleep(jitter(this.backoff[attempt - 1] ?? 1000));
        if (this.closed) throw new TargetError('E_CONNECTION', 'the FTP target is closed');
        if (this.latched) throw this.latched;
        try {
          const session = await this.options.open();
          if (this.closed) {
            session.close();
            throw new TargetError('E_CONNECTION', 'the FTP target is closed');
          }
          this.busy.add(session);
          this.coldUntil = 0;
          return session;
        } catch (err) {
          last = err instanceof TargetError ? err : new TargetError('E_CONNECTION', `connect: ${String(err)}`, { cause: err });
          if (PAUSE_CODES.has(last.code)) {
            this.latched = last;
            this.failWaiters(last);
            throw last;
          }
          // A timeout already waited timeoutMs on a server that said nothing (a stalled path):
          // another attempt would wait as long again while `status` still says ok. The
          // engine's backoff takes over from here, and says so.
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
      this.coldUntil = Date.now() + this.coolDownMs;
      this.coldError = last;
      throw last ?? new TargetError('E_CONNECTION', 'connect failed');
    } finally {
      this.opening--;
      if (this.live === 0 && this.waiters.length > 0 && (this.latched || this.coldUntil > Date.now())) {
        this.failWaiters(this.latched ?? this.coldError ?? new TargetError('E_CONNECTION', 'connect failed'));
      }
    }
  }

  private failWaiters(err: TargetError): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private release(session: FtpSession, healthy: boolean): void {
    this.busy.delete(session);
    if (!healthy || this.closed) {
      session.close();
      // A slot is free: let the first waiter open a replacement.
      this.waiters.shift()?.resolve(undefined);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(session);
    else if (session.hasDeferred) {
      // Nobody takes the session now: send its deferred commands alone, then release it.
      this.busy.add(session);
      session.flushDeferred().then(
        () => this.release(session, !session.closed),
        () => this.release(session, false),
      );
    } else this.idle.push(session);
  }

  /** Close every session (QUIT) and fail whoever waits. Busy sessions are cut. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.idle.splice(0)) s.close();
    for (const s of this.busy) s.close();
    this.failWaiters(new TargetError('E_CONNECTION', 'the FTP target is closed'));
  }
}
