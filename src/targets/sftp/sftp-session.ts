/**
 * One SSH connection and its SFTP channel, as the shared pool (../pool/session-pool.ts) holds
 * it: the pool decides when to open, share, drop and reopen sessions, with its pacer's
 * backoff between attempts and its latch on a refused login or host key.
 *
 * Why several operations per session: one SFTP channel carries many requests in flight (the
 * protocol tags each with an id), so throughput comes from pipelining on a channel plus a few
 * connections in parallel (each connection is one sshd process and one cipher stream on the
 * server; a 2-core loopback box saturates at about 4). The pool gives each session up to
 * `opsPerConnection` operations.
 *
 * Why a liveness deadline here rather than the pool's per-operation one: a large upload may
 * take long while making progress. After a reset, a hung server or a stalled TCP path, ssh2
 * may never call a request's callback. When requests are outstanding and the connection has
 * answered none of them for `timeoutMs` (no progress; a slow link that keeps answering is
 * alive), the oldest rejects with E_TIMEOUT and the whole session is dropped (its other
 * requests reject with E_CONNECTION; `closed` turns true and the pool reopens on next use),
 * so nothing waits forever. A request left unanswered while others are answered fails after
 * STUCK_REQUEST_FACTOR × timeoutMs.
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

/** One SSH connection with one SFTP channel (a PooledSession). */
export class SftpSession {
  private client: Client | undefined;
  private sftp: SFTPWrapper | undefined;
  private readonly pending = new Set<Pending>();
  /**
   * One timer per session checks the oldest outstanding request against the deadline; a
   * timer per request cost a timer-list insert and removal for each of a push's 50,000.
   */
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** Date.now() of the last answer on this connection (the liveness deadline's progress). */
  private lastAnswerAt = 0;
  private corked = false;
  private readonly extensions: SftpExtensions;
  /** SFTP's max payload per WRITE on this channel (OpenSSH announces it via limits@openssh.com). */
  readonly maxWriteLen: number = 32 * 1024;

  /** Log in and open the channel; rejects with a TargetError (`abort`: see openConnection). */
  static async open(connector: Connector, abort: AbortSignal): Promise<SftpSession> {
    const { client, sftp } = await openConnection(connector, abort);
    return new SftpSession(connector, client, sftp);
  }

  private constructor(
    private readonly connector: Connector,
    client: Client,
    sftp: SFTPWrapper,
  ) {
    this.client = client;
    this.sftp = sftp;
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
      if (this.client === client) this.drop(new TargetError('E_CONNECTION', `${connector.what}: ${why}`));
    };
    client.on('error', (err: Error) => {
      if (this.client === client) this.drop(translateSessionError(err, connector.what));
    });
    client.on('close', lost('connection closed'));
    sftp.on('close', lost('SFTP channel closed'));
    sftp.on('error', (err: Error) => {
      if (this.client === client) this.drop(translateSessionError(err, connector.what));
    });
  }

  /** True once the connection is gone (dropped, failed, closed): the pool then opens another. */
  get closed(): boolean {
    return this.sftp === undefined;
  }

  get ext(): SftpExtensions {
    return this.extensions;
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
      this.drop(new TargetError('E_CONNECTION', `${oldest.label}: connection dropped after a request timed out`));
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
  drop(reason: TargetError): void {
    const client = this.client;
    this.client = undefined;
    this.sftp = undefined;
    const pending = [...this.pending];
    this.pending.clear();
    for (const p of pending) p.fail(reason);
    client?.destroy();
  }

  /**
   * Close politely (end the channel and connection); outstanding requests reject. (A
   * connection still being opened is cut through the pool's abort signal: openConnection.)
   */
  async close(): Promise<void> {
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
