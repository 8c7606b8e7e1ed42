/**
 * SSH connections and their SFTP channels for one target.
 *
 * Why a pool: one SFTP channel carries many requests in flight (the protocol tags each with
 * an id), so throughput comes from pipelining on a channel plus a few connections in
 * parallel (each connection is one sshd process and one cipher stream on the server; a
 * 2-core loopback box saturates at about 4). Operations go to the least loaded session;
 * sessions open lazily as load needs them and reopen on next use after a failure, with
 * exponential backoff (jittered) between attempts on the same slot.
 *
 * Why a liveness deadline: after a reset, a hung server or a stalled TCP path, ssh2 may never
 * call a request's callback. When requests are outstanding and the connection has answered
 * none of them for `timeoutMs` (no progress; a slow link that keeps answering is alive), the
 * oldest rejects with E_TIMEOUT and the whole session is dropped (its other requests reject
 * with E_CONNECTION), so nothing waits forever and the next use reconnects. A request left
 * unanswered while others are answered fails after STUCK_REQUEST_FACTOR × timeoutMs.
 *
 * A login or host-key refusal (scope "pause") is remembered pool-wide: later operations fail
 * at once with the same error instead of logging in again and again (no retry loop), until
 * the engine calls `connect()` again.
 */
import type { Client, ConnectConfig, SFTPWrapper } from 'ssh2';
import { TargetError } from '../errors.ts';
import { translateSessionError } from './translate-error.ts';
import { loadSsh2 } from './ssh2-module.ts';

/** How the pool opens one connection; provided by the target (auth, host key policy). */
export interface Connector {
  /** Human-readable, secret-free name of the server for messages, e.g. `sftp://deploy@host:22`. */
  readonly what: string;
  /** Deadline for each request and for the login (ms). */
  readonly timeoutMs: number;
  /**
   * The ssh2 config for one attempt. Its `hostVerifier` must store a refusal in
   * `refusal.error`: ssh2 only reports "Host denied", and the E_HOST_KEY message with the
   * offered fingerprint is what the user needs.
   */
  config(refusal: { error?: TargetError }): ConnectConfig;
}

/** OpenSSH protocol extensions the server announced on this channel. */
export interface SftpExtensions {
  readonly posixRename: boolean;
  readonly lsetstat: boolean;
  readonly fsync: boolean;
  readonly statvfs: boolean;
}

type RequestCallback<T> = (err: Error | null | undefined, value?: T) => void;

interface Pending {
  readonly label: string;
  /** Date.now() when the request was sent (pending requests are kept in this order). */
  readonly sentAt: number;
  fail(err: TargetError): void;
}

/** A single request unanswered this many timeouts long fails even while others progress. */
const STUCK_REQUEST_FACTOR = 4;
const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 5_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Open one SSH connection and its SFTP channel, or reject with a TargetError. `abort` (the
 * session was closed meanwhile, even before this call) cuts the half-open connection.
 */
async function openConnection(connector: Connector, abort: AbortSignal): Promise<{ client: Client; sftp: SFTPWrapper }> {
  const closed = () => new TargetError('E_CONNECTION', `connect to ${connector.what}: the target was closed`);
  if (abort.aborted) throw closed();
  const ssh2 = await loadSsh2();
  if (abort.aborted) throw closed();
  return new Promise((resolve, reject) => {
    const refusal: { error?: TargetError } = {};
    const client = new ssh2.Client();
    let done = false;
    const onAbort = () => fail(closed());
    const fail = (err: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      abort.removeEventListener('abort', onAbort);
      client.destroy();
      reject(refusal.error ?? translateSessionError(err, `connect to ${connector.what}`));
    };
    abort.addEventListener('abort', onAbort, { once: true });
    // ssh2's readyTimeout covers the handshake and login; this guard also covers opening
    // the SFTP channel, which has no deadline of its own.
    const guard = setTimeout(() => fail(new TargetError('E_TIMEOUT', `connect to ${connector.what}: no SFTP session within ${connector.timeoutMs} ms`)), connector.timeoutMs + 500);
    client.on('error', fail);
    client.on('close', () => fail(new TargetError('E_CONNECTION', `connect to ${connector.what}: the server closed the connection during login`)));
    client.on('ready', () => {
      client.sftp((err, sftp) => {
        if (err) return fail(err);
        if (done) {
          sftp.end();
          return;
        }
        done = true;
        clearTimeout(guard);
        abort.removeEventListener('abort', onAbort);
        client.removeListener('error', fail);
        resolve({ client, sftp });
      });
    });
    try {
      client.connect(connector.config(refusal));
    } catch (err) {
      // ssh2 throws synchronously on a config it cannot use (e.g. an unparsable key).
      fail(err);
    }
  });
}

/** One SSH connection with one SFTP channel. */
export class SftpSession {
  /** Operations currently assigned to this session (for least-loaded scheduling). */
  active = 0;
  private client: Client | undefined;
  private sftp: SFTPWrapper | undefined;
  private opening: Promise<void> | undefined;
  /** Cuts the connection being opened, when the session is closed meanwhile. */
  private openAbort: AbortController | undefined;
  private readonly pending = new Set<Pending>();
  /**
   * One timer per session checks the oldest outstanding request against the deadline; a
   * timer per request cost a timer-list insert and removal for each of a push's 50,000.
   */
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** Date.now() of the last answer on this connection (the liveness deadline's progress). */
  private lastAnswerAt = 0;
  private failures = 0;
  private retryAt = 0;
  private corked = false;
  private extensions: SftpExtensions = { posixRename: false, lsetstat: false, fsync: false, statvfs: false };
  /** SFTP's max payload per WRITE on this channel (OpenSSH announces it via limits@openssh.com). */
  maxWriteLen = 32 * 1024;

  constructor(
    readonly index: number,
    private readonly connector: Connector,
  ) {}

  get isOpen(): boolean {
    return this.sftp !== undefined;
  }

  /** True while a failed slot waits out its backoff (the scheduler avoids it). */
  get inBackoff(): boolean {
    return this.sftp === undefined && this.retryAt > Date.now();
  }

  get ext(): SftpExtensions {
    return this.extensions;
  }

  /** Open if needed; concurrent callers share one attempt. */
  ensureOpen(): Promise<void> {
    if (this.sftp !== undefined) return Promise.resolve();
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<void> {
    const abort = new AbortController();
    this.openAbort = abort;
    const wait = this.retryAt - Date.now();
    if (wait > 0) await sleep(wait);
    try {
      const { client, sftp } = await openConnection(this.connector, abort.signal);
      this.client = client;
      this.sftp = sftp;
      this.failures = 0;
      this.retryAt = 0;
      // ssh2 keeps the announced extensions and limits on private fields; read them once.
      const internals = sftp as unknown as { _extensions?: Record<string, string>; _maxWriteLen?: number };
      const ext = internals._extensions ?? {};
      this.extensions = {
        posixRename: ext['posix-rename@openssh.com'] === '1',
        lsetstat: ext['lsetstat@openssh.com'] === '1',
        fsync: ext['fsync@openssh.com'] === '1',
        statvfs: ext['statvfs@openssh.com'] === '2',
      };
      if (typeof internals._maxWriteLen === 'number' && internals._maxWriteLen > 0) this.maxWriteLen = internals._maxWriteLen;
      const lost = (why: string) => () => {
        if (this.client === client) this.drop(new TargetError('E_CONNECTION', `${this.connector.what}: ${why}`), false);
      };
      client.on('error', (err: Error) => {
        if (this.client === client) this.drop(translateSessionError(err, this.connector.what), true);
      });
      client.on('close', lost('connection closed'));
      sftp.on('close', lost('SFTP channel closed'));
      sftp.on('error', (err: Error) => {
        if (this.client === client) this.drop(translateSessionError(err, this.connector.what), true);
      });
    } catch (err) {
      if (abort.signal.aborted) throw err; // closed by us: not a failure of the server
      this.failures++;
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.failures - 1));
      this.retryAt = Date.now() + backoff * (0.5 + Math.random() / 2);
      throw err;
    }
  }

  /**
   * Send one SFTP request with a deadline. `start` issues it on the channel; its callback
   * settles the promise with ssh2's raw error (the caller translates it, knowing the
   * operation). Deadline or connection loss reject with a TargetError.
   */
  request<T = void>(label: string, start: (sftp: SFTPWrapper, cb: RequestCallback<T>) => void): Promise<T> {
    const sftp = this.sftp;
    if (sftp === undefined) {
      return Promise.reject(new TargetError('E_CONNECTION', `${label}: ${this.connector.what} is not connected`));
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const entry: Pending = {
        label,
        sentAt: Date.now(),
        fail: (err) => {
          if (settled) return;
          settled = true;
          reject(err);
        },
      };
      this.pending.add(entry);
      this.watchDeadlines();
      const cb: RequestCallback<T> = (err, value) => {
        this.pending.delete(entry);
        this.lastAnswerAt = Date.now();
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve(value as T);
      };
      this.corkForTick();
      try {
        start(sftp, cb);
      } catch (err) {
        // ssh2 throws synchronously for unsupported extensions or bad arguments.
        cb(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Starts the deadline check while requests are outstanding (it stops when none are). */
  private watchDeadlines(): void {
    if (this.deadlineTimer !== undefined) return;
    const every = Math.max(50, Math.min(1_000, this.connector.timeoutMs / 4));
    this.deadlineTimer = setInterval(() => {
      const oldest = this.pending.values().next().value;
      if (oldest === undefined) {
        clearInterval(this.deadlineTimer);
        this.deadlineTimer = undefined;
        return;
      }
      const now = Date.now();
      const quiet = now - Math.max(oldest.sentAt, this.lastAnswerAt);
      const age = now - oldest.sentAt;
      if (quiet < this.connector.timeoutMs && age < this.connector.timeoutMs * STUCK_REQUEST_FACTOR) return;
      oldest.fail(new TargetError('E_TIMEOUT', `${oldest.label}: no answer from ${this.connector.what} for ${((quiet >= this.connector.timeoutMs ? quiet : age) / 1000).toFixed(1)} s (timeoutMs ${this.connector.timeoutMs}); the connection is dropped`));
      this.drop(new TargetError('E_CONNECTION', `${oldest.label}: connection dropped after a request timed out`), true);
    }, every);
    this.deadlineTimer.unref();
  }

  /**
   * Requests issued in the same tick (a put's FSETSTAT+CLOSE, a window of WRITEs, the next
   * steps of many operations whose answers arrived in one read) leave in one socket write:
   * fewer syscalls here and fewer wake-ups in sshd, which is where loopback time goes.
   */
  private corkForTick(): void {
    const sock = (this.client as unknown as { _sock?: { cork?: () => void; uncork?: () => void } } | undefined)?._sock;
    if (this.corked || sock?.cork === undefined || sock.uncork === undefined) return;
    this.corked = true;
    sock.cork();
    process.nextTick(() => {
      this.corked = false;
      sock.uncork?.();
    });
  }

  /** Forget this connection: every outstanding request rejects with `reason`. */
  drop(reason: TargetError, backoff: boolean): void {
    const client = this.client;
    this.client = undefined;
    this.sftp = undefined;
    if (backoff) {
      this.failures++;
      this.retryAt = Date.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.failures - 1));
    }
    const pending = [...this.pending];
    this.pending.clear();
    for (const p of pending) p.fail(reason);
    client?.destroy();
  }

  /**
   * Close politely (end the channel and connection); outstanding requests reject. A
   * connection still being opened (a prewarm, a busy pool growing) is cut, not left to
   * finish its login and stay open unowned.
   */
  async close(): Promise<void> {
    if (this.opening !== undefined) {
      this.openAbort?.abort();
      await this.opening.catch(() => undefined);
    }
    const client = this.client;
    const sftp = this.sftp;
    if (client === undefined) return;
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    this.client = undefined;
    this.sftp = undefined;
    for (const p of [...this.pending]) p.fail(new TargetError('E_CONNECTION', `${this.connector.what}: target closed`));
    this.pending.clear();
    sftp?.end();
    client.end();
    // Give the server a moment to acknowledge, then cut it.
    await Promise.race([closed, sleep(1_000)]);
    client.destroy();
  }
}

/** N sessions, least-loaded scheduling, a cap on operations per session. */
export class SftpPool {
  private readonly sessions: SftpSession[];
  private readonly waiters: Array<() => void> = [];
  private fatal: TargetError | undefined;
  private closed = false;

  constructor(
    connector: Connector,
    size: number,
    /** Operations in flight per session; beyond that callers queue (bounded memory). */
    private readonly perSession = 16,
  ) {
    this.sessions = Array.from({ length: size }, (_, i) => new SftpSession(i, connector));
  }

  /** Open the first session now (login and host key are checked here); clears a remembered refusal. */
  async connect(): Promise<void> {
    this.fatal = undefined;
    this.closed = false;
    await this.run(async () => undefined);
  }

  /** Start opening every session that is not open (see Target.prewarm); errors are left to the next use. */
  prewarm(): void {
    if (this.fatal !== undefined || this.closed) return;
    for (const s of this.sessions) if (!s.isOpen && !s.inBackoff) s.ensureOpen().catch(() => undefined);
  }

  /** Run `fn` with a session that is open; the session stays assigned until `fn` settles. */
  async run<T>(fn: (session: SftpSession) => Promise<T>): Promise<T> {
    if (this.fatal !== undefined) throw this.fatal;
    if (this.closed) throw new TargetError('E_CONNECTION', 'target is closed');
    const session = await this.acquire();
    try {
      try {
        await session.ensureOpen();
      } catch (err) {
        if (err instanceof TargetError && err.scope === 'pause') this.fatal = err;
        throw err;
      }
      return await fn(session);
    } finally {
      session.active--;
      this.waiters.shift()?.();
    }
  }

  private pick(): SftpSession | undefined {
    let best: SftpSession | undefined;
    let bestScore = Infinity;
    for (const s of this.sessions) {
      if (s.active >= this.perSession) continue;
      // An unopened slot counts as half an operation: a second connection opens only once
      // the first one is busy. A slot in backoff is used only when nothing else is free.
      const score = s.active + (s.isOpen ? 0 : 0.5) + (s.inBackoff ? 1_000 : 0);
      if (score < bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }

  private async acquire(): Promise<SftpSession> {
    for (;;) {
      if (this.closed) throw new TargetError('E_CONNECTION', 'target is closed');
      const s = this.pick();
      if (s !== undefined) {
        s.active++;
        return s;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.sessions.map((s) => s.close()));
    for (const w of this.waiters.splice(0)) w();
  }
}
