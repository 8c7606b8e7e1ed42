/**
 * FTP and FTPS targets (basic-ftp). `ftp://user@host:port/dir`, `ftps://…` (explicit TLS unless
 * `tls: implicit`), certificates verified (custom CA via `ca`, `insecure` only when set).
 *
 * How the contract is met on FTP:
 *   - Every call runs on a pooled session of its own (../pool/session-pool.ts: lazy open,
 *     deadlines, paced reconnects, a refused login latched) with absolute paths.
 *   - put: STOR to tempPath in the final directory, MFMT when offered, then RNFR/RNTO over the
 *     final name; when a server refuses to rename over an existing file, DELE it and rename.
 *   - Servers' 550 replies are often wordless (vsftpd: "… operation failed."), so failures are
 *     classified by probing: is the path there, is the parent there, is the directory empty.
 *   - list: CWD into the directory (which also proves it exists: vsftpd answers LIST of a
 *     missing path with an empty listing), then MLSD where offered, else `LIST -a` (no path
 *     argument, so servers that glob LIST arguments cannot misread names with `*?[`).
 *   - stat: MLST where offered; else SIZE (a file) then CWD (a directory).
 *   - Capabilities depend on the server: `caps` reflects it once `connect()` has resolved
 *     (before that, the conservative default: no mtime preservation).
 *   - The root is a jail (../jail.ts). An FTP server follows symbolic links inside its own
 *     root, so before an operation acts in a directory below ours it sends CWD to that
 *     directory and PWD in one write: vsftpd and pure-ftpd both answer PWD with getcwd(), the
 *     directory with every link resolved, which must be the directory itself (below the root
 *     as PWD showed it at connect), else E_LINK_IN_PATH. Listings are no help here: a link
 *     shows as a link in its parent's listing (vsftpd LIST 'l', pure-ftpd MLSD
 *     type=OS.unix=slink), but reading the parent costs a data connection, and vsftpd has no
 *     MLST. Why per operation rather than once per directory and session: a link planted
 *     after the first check would be written through for as long as the session lives. The
 *     cost is one round trip per operation below a subdirectory (none for files in the root);
 *     it also carries the replies of the previous put's deferred commands.
 *     Shared checks: an operation whose directory is being checked by another session, with
 *     a check sent after this operation was called, waits for that answer instead of sending
 *     its own (checkDir). The server evaluated that PWD after the operation was asked for and
 *     the operation proceeds as soon as the answer is in, so it is exactly as fresh as its own
 *     check would be. In a first push (sessions writing into one directory side by side)
 *     about half the puts skip the round trip. Not done, on purpose: trusting a directory
 *     because this session created it (MKD succeeded) or because it was checked a moment ago
 *     is a cache by another name; a link planted after that moment would be written through
 *     for as long as the trust lasts, which is what the per-operation check rules out.
 */
import { Readable } from 'node:stream';
import { quotePath } from '../../core/names.ts';
import { randomToken, TEMP_MARKER } from '../../core/temp-name.ts';
import { FTPError } from 'basic-ftp';
import type { Reply } from './deferred-commands.ts';
import { parentOf } from '../../core/paths.ts';
import { TargetError, type TargetErrorCode } from '../errors.ts';
import { assertSafePath, linkInPathError, underRoot } from '../jail.ts';
import type { FtpSpec } from './options.ts';
import type { ConnectOptions, ConnectResult, PutOptions, PutSource, RemoteEntry, Target, TargetCapabilities } from '../target.ts';
import type { BackoffPolicy } from '../../core/retry.ts';
import { SessionPool, type PoolStats, type SessionFactory } from '../pool/session-pool.ts';
import { FtpSession, assertSendable, type FtpFeatures } from './ftp-session.ts';
import { directoriesFromPwd, entryFromFileInfo, entryFromMlst, formatMfmtTime } from './ftp-listing.ts';
import { ftpSettings, type FtpSettings } from './ftp-settings.ts';
import { KnownDirs } from './known-dirs.ts';
import { holdEmptyTlsUploadEnd } from './tls-empty-upload.ts';
import { translateFtpError, type FtpOperation } from './translate-error.ts';
import { doubleIac, fromWire, IAC, toWire } from './wire.ts';

/** Where warnings go (insecure TLS); console by default, injectable for tests and the daemon. */
export interface FtpLogger {
  warn(message: string): void;
}

export interface FtpTargetOptions {
  readonly logger?: FtpLogger;
  /** Pool tuning, for tests: open retry delays and the cool-down after failing to connect. */
  readonly openRetry?: BackoffPolicy;
  readonly coolDownMs?: number;
}

export function createFtpTarget(spec: FtpSpec, url: URL, options: FtpTargetOptions = {}): Target {
  return new FtpTarget(ftpSettings(spec, url), options);
}

/**
 * The server's answer to a directory check: the directory itself ('ok'), a refused CWD, a
 * PWD reply without a directory, or another directory (a link on the way, as PWD showed it).
 */
type DirVerdict = 'ok' | { readonly refused: FTPError } | { readonly noPwd: string } | { readonly link: string };

/** Bytes per second below which a transfer counts as stuck, for the put deadline. */
const MIN_RATE_BYTES_PER_S = 16 * 1024;

function isReply(err: unknown, ...codes: number[]): err is FTPError {
  return err instanceof FTPError && (codes.length === 0 || codes.includes(err.code));
}

export class FtpTarget implements Target {
  readonly displayName: string;
  /**
   * Twice the sessions: a session runs one operation at a time, and the extra operations
   * wait at the pool with their file read and temp name journalled, so a session never idles
   * while the engine commits a result or prepares the next file.
   */
  readonly maxInFlight: number;
  private readonly pool: SessionPool<FtpSession>;
  private readonly known = new KnownDirs();
  private features: FtpFeatures | undefined;
  /** The root as the server resolves it (PWD at connect, wire form): paths are built on it. */
  private realRoot: string | undefined;
  /** The configured root in wire form (wire.ts). */
  private readonly rootWire: string;
  /** Numbers operation calls and directory checks in the order they happen (see checkDir). */
  private seq = 0;
  /** Per directory, the check whose answer is on its way (see checkDir). */
  private readonly checksInFlight = new Map<string, { readonly sentSeq: number; readonly verdict: Promise<DirVerdict> }>();
  /** Operations that waited for another session's check instead of sending their own. */
  checksShared = 0;
  /** Whether this server doubles byte 0xFF in replies (wire.ts); probed when first needed. */
  private iacDoubled: Promise<boolean> | undefined;

  constructor(
    private readonly settings: FtpSettings,
    private readonly options: FtpTargetOptions = {},
  ) {
    this.displayName = settings.displayName;
    this.rootWire = toWire(settings.root);
    this.maxInFlight = settings.connections * 2;
    const sessions: SessionFactory<FtpSession> = {
      what: 'the FTP target',
      open: () => this.openSession(),
      settle: (s) => (s.hasDeferred ? s.flushDeferred() : undefined),
    };
    this.pool = new SessionPool(sessions, {
      size: settings.connections,
      ...(options.openRetry ? { openRetry: options.openRetry } : {}),
      ...(options.coolDownMs !== undefined ? { coolDownMs: options.coolDownMs } : {}),
    });
  }

  /** What this server can do; final once `connect()` resolved (FEAT of the first session). */
  get caps(): TargetCapabilities {
    return {
      preservesMtime: this.features?.mfmt ?? false,
      fastRecursiveRemove: false,
      byteNames: true,
    };
  }

  private async openSession(): Promise<FtpSession> {
    const session = await FtpSession.open(this.settings);
    this.features ??= session.features;
    return session;
  }

  // ---- paths and errors -------------------------------------------------------------------

  /** Absolute server path of a relative target path, in wire form (the bytes to send, wire.ts). */
  private abs(path: string): string {
    assertSafePath(path);
    const full = underRoot(this.realRoot ?? this.rootWire, toWire(path));
    assertSendable(full, path);
    return full;
  }

  /**
   * Whether the reply to PWD (its readings, see directoriesFromPwd) names `expected` (wire
   * form). A byte 0xFF in the name is compared the way this server writes it (wire.ts): a
   * reading that allowed both ways would take a sibling whose name doubles that byte for ours.
   */
  private async pwdShows(s: FtpSession, shown: readonly string[], expected: string): Promise<boolean> {
    if (!expected.includes(IAC)) return shown.includes(expected);
    return shown.includes((await this.iacDoubledOn(s)) ? doubleIac(expected) : expected);
  }

  private iacDoubledOn(s: FtpSession): Promise<boolean> {
    const probe = (this.iacDoubled ??= this.probeIacDoubling(s));
    probe.catch(() => {
      if (this.iacDoubled === probe) this.iacDoubled = undefined; // asked again next time
    });
    return probe;
  }

  /**
   * Creates and removes a directory whose name holds byte 0xFF in the root, and reads the
   * reply to MKD, which names it (RFC 959 257): is the byte doubled? Once per server, only
   * when a path with that byte is checked. The name is a temp name (core/temp-name.ts), so a
   * crash between the two leaves something the engine recognises and cleans up.
   */
  private async probeIacDoubling(s: FtpSession): Promise<boolean> {
    const name = `.iac-probe${IAC}${TEMP_MARKER}${randomToken()}.tmp`;
    const dir = underRoot(this.realRoot ?? this.rootWire, name);
    const made = await s.client.sendIgnoringError(`MKD ${dir}`);
    await s.client.sendIgnoringError(`RMD ${dir}`);
    const tail = name.slice(name.indexOf(IAC) + 1);
    if (made.code === 257 && made.message.includes(`${IAC}${IAC}${tail}`)) return true;
    if (made.code === 257 && made.message.includes(`probe${IAC}${tail}`)) return false;
    throw new TargetError('E_PROTOCOL', `${this.displayName}: cannot tell how the server writes byte 0xFF in a reply (MKD of a probe directory answered ${JSON.stringify(fromWire(made.message.trim()))}), so a name with that byte cannot be checked for links on its way`);
  }

  /**
   * CWD to `dir` and PWD in one write (see the header). Throws E_LINK_IN_PATH when the server
   * resolves `dir` to another directory. Returns the CWD refusal when the server could not
   * enter `dir` (missing, not a directory, not allowed): the caller decides what that means;
   * then there is no directory to write through either. Leaves the session in `dir`.
   */
  private async enterChecked(s: FtpSession, dir: string, op: FtpOperation, path: string): Promise<FTPError | undefined> {
    const entry = { sentSeq: ++this.seq, verdict: this.checkOn(s, dir) };
    this.checksInFlight.set(dir, entry);
    const settled = () => {
      if (this.checksInFlight.get(dir) === entry) this.checksInFlight.delete(dir);
    };
    entry.verdict.then(settled, settled);
    let verdict: DirVerdict;
    try {
      verdict = await entry.verdict;
    } catch (err) {
      throw this.fail(err, op, path);
    }
    return this.judge(verdict, dir, op, path);
  }

  /** Sends the check of `dir` on `s` (the write leaves now) and reads the server's answer. */
  private async checkOn(s: FtpSession, dir: string): Promise<DirVerdict> {
    const expected = this.abs(dir);
    s.cwd = undefined;
    const [cwd, pwd] = (await s.pipeline([`CWD ${expected}`, 'PWD'])) as [Reply, Reply];
    if (cwd instanceof FTPError) return { refused: cwd };
    const shown = pwd instanceof FTPError ? [] : directoriesFromPwd(pwd.message);
    if (shown.length === 0) return { noPwd: pwd.message };
    if (!(await this.pwdShows(s, shown, expected))) {
      this.known.forgetChain(dir);
      return { link: shown[0]! };
    }
    s.cwd = expected;
    return 'ok';
  }

  /** What a check's answer means for one operation (see enterChecked). */
  private judge(verdict: DirVerdict, dir: string, op: FtpOperation, path: string): FTPError | undefined {
    if (verdict === 'ok') return undefined;
    if ('refused' in verdict) return verdict.refused;
    if ('noPwd' in verdict) {
      throw new TargetError('E_PROTOCOL', `${op} ${quotePath(path)}: the reply to PWD names no directory (${fromWire(verdict.noPwd.trim())}), so a link on the way cannot be ruled out`, { path });
    }
    throw linkInPathError(op, path, undefined, fromWire(verdict.link), dir);
  }

  /**
   * The jail check for the directory an operation acts in (the root needs none). `requested`
   * is the operation's sequence number, taken when it was called: a check of the same
   * directory that another session sent after that moment and whose answer is still on its
   * way is waited for instead of sending one more (see the header: as fresh as its own).
   * Without `requested` the check is always this session's own.
   */
  private async checkDir(s: FtpSession, dir: string, op: FtpOperation, path: string, requested?: number): Promise<void> {
    if (dir === '') return;
    const inFlight = requested === undefined ? undefined : this.checksInFlight.get(dir);
    if (inFlight !== undefined && inFlight.sentSeq > requested!) {
      // A connection lost on the other session says nothing about this one: check here then.
      const verdict = await inFlight.verdict.catch(() => undefined);
      if (verdict !== undefined) {
        this.checksShared++;
        this.judge(verdict, dir, op, path);
        return;
      }
    }
    await this.enterChecked(s, dir, op, path);
  }

  private fail(err: unknown, op: FtpOperation, path: string, fallback550?: TargetErrorCode): TargetError {
    const te = translateFtpError(err, op, path, { secret: this.settings.password, ...(fallback550 ? { fallback550 } : {}) });
    if (te.code === 'E_NOT_FOUND') this.known.forgetChain(path);
    return te;
  }

  /** The deadline for one control-channel operation (several round trips). */
  private get opDeadlineMs(): number {
    return Math.max(this.settings.timeoutMs * 3, 5_000);
  }

  private runOp<T>(op: FtpOperation, path: string, fn: (s: FtpSession) => Promise<T>, opts: { idempotent?: boolean; deadlineMs?: number } = {}): Promise<T> {
    // Whatever escapes `fn` untranslated (a socket error mid-way) is translated here, so the
    // pool sees only TargetErrors and can tell a lost connection from a refusal.
    const translated = async (s: FtpSession): Promise<T> => {
      try {
        return await fn(s);
      } catch (err) {
        throw this.fail(err, op, path);
      }
    };
    return this.pool.run(translated, { idempotent: opts.idempotent ?? true, deadlineMs: opts.deadlineMs ?? this.opDeadlineMs, label: op, path });
  }

  // ---- probes -----------------------------------------------------------------------------

  /** What is at `path`, on this session; undefined when nothing. */
  private async statOn(s: FtpSession, path: string): Promise<RemoteEntry | undefined> {
    if (path === '') {
      // The root can vanish too (removed behind our back): the engine asks after an E_NOT_FOUND.
      try {
        await s.cdAgain(this.rootWire);
        return { path: '', kind: 'dir', size: 0 };
      } catch (err) {
        if (isReply(err, 550, 450, 553)) return undefined;
        throw err;
      }
    }
    const abs = this.abs(path);
    if (s.features.mlsd) {
      try {
        const res = await s.send(`MLST ${abs}`);
        const entry = entryFromMlst(path, fromWire(res.message));
        if (entry) return entry;
      } catch (err) {
        if (isReply(err, 550, 450, 553)) return undefined;
        if (!isReply(err, 500, 501, 502, 504)) throw err;
        // MLST refused for this path: fall through to SIZE/CWD.
      }
    }
    try {
      const res = await s.send(`SIZE ${abs}`);
      const size = Number.parseInt(res.message.slice(4), 10);
      if (res.code === 213 && Number.isFinite(size)) return { path, kind: 'file', size };
    } catch (err) {
      if (!isReply(err)) throw err;
    }
    try {
      await s.cd(abs);
      return { path, kind: 'dir', size: 0 };
    } catch (err) {
      if (isReply(err, 550, 450, 553, 501)) return undefined;
      throw err;
    }
  }

  /** The code for a failed create at `path` whose reply said nothing useful. */
  private async classifyCreateFailure(s: FtpSession, path: string, err: unknown, op: FtpOperation): Promise<TargetError> {
    if (!isReply(err) || s.closed) return this.fail(err, op, path);
    const parent = await this.statOn(s, parentOf(path)).catch(() => undefined);
    if (parent === undefined) {
      return new TargetError('E_NOT_FOUND', `${op} ${quotePath(path)}: the parent directory does not exist (${err.message.trim()})`, { path, cause: err });
    }
    if (parent.kind !== 'dir') return new TargetError('E_EXISTS', `${op} ${quotePath(path)}: the parent is not a directory`, { path, cause: err });
    return this.fail(err, op, path);
  }

  // ---- Target -----------------------------------------------------------------------------

  prewarm(): void {
    this.pool.prewarm();
  }

  async connect(options: ConnectOptions = {}): Promise<ConnectResult> {
    this.pool.reset();
    this.known.clear();
    // Logins cost the server a password hash each (tens of milliseconds): for a first push,
    // all of them run alongside the first one instead of after it.
    if (options.bulk) this.pool.prewarm();
    if (this.settings.insecure) {
      (this.options.logger ?? console).warn(`${this.displayName}: TLS certificate verification is off (insecure: true); anyone on the path can impersonate this server`);
    }
    this.realRoot = undefined;
    return this.runOp('open target root', '', async (s) => {
      const rootCreated = await this.enterRoot(s, this.rootWire, options.rootExisted === true);
      // The root may be a link the operator set up: resolved once, here, then trusted.
      const res = await s.send('PWD');
      const candidates = directoriesFromPwd(res.message);
      let shown = candidates.includes(this.rootWire) ? this.rootWire : candidates[0];
      if (shown === undefined) throw new TargetError('E_PROTOCOL', `open target root: the reply to PWD names no directory (${fromWire(res.message.trim())})`, { path: '' });
      // A root resolved through a link to a name with byte 0xFF: as this server writes it.
      if (shown !== this.rootWire && shown.includes(IAC) && (await this.iacDoubledOn(s))) shown = shown.split(IAC + IAC).join(IAC);
      this.realRoot = shown;
      return { rootCreated };
    });
  }

  /**
   * CWD to the root, creating it (and missing parents) first when needed; true when it was
   * created. A root that existed before (`rootExisted`) is created again only by itself: a
   * missing parent (an unmounted disk on the server) is waited for, E_ROOT_GONE.
   */
  private async enterRoot(s: FtpSession, root: string, rootExisted: boolean): Promise<boolean> {
    // `root` is in wire form; messages show the configured root.
    const shownRoot = this.settings.root;
    try {
      await s.cd(root);
      return false;
    } catch (err) {
      if (!isReply(err, 550, 450, 553)) throw this.fail(err, 'open target root', '');
    }
    if (rootExisted) {
      assertSendable(root, '');
      await s.client.sendIgnoringError(`MKD ${root}`);
      try {
        await s.cd(root);
        return true;
      } catch (err) {
        if (!isReply(err) || s.closed) throw this.fail(err, 'open target root', '');
        throw new TargetError('E_ROOT_GONE', `the target root ${shownRoot} on ${this.displayName} is gone and cannot be created again (is its parent folder gone too?): waiting for it to come back`, { path: '', cause: err });
      }
    }
    // Create the root (and missing parents) one level at a time.
    let dir = '';
    for (const seg of root.split('/').filter((x) => x !== '')) {
      dir = `${dir}/${seg}`;
      assertSendable(dir, '');
      await s.client.sendIgnoringError(`MKD ${dir}`);
    }
    try {
      await s.cd(root);
    } catch (err) {
      const te = this.fail(err, 'open target root', '', 'E_PERMISSION');
      throw new TargetError(te.code, `cannot create or enter the target root ${shownRoot} on ${this.displayName}: ${te.message}`, { path: '', cause: te });
    }
    return true;
  }

  async stat(path: string): Promise<RemoteEntry | undefined> {
    const requested = ++this.seq;
    return this.runOp('stat', path, async (s) => {
      await this.checkDir(s, parentOf(path), 'stat', path, requested);
      try {
        const entry = await this.statOn(s, path);
        if (entry?.kind === 'dir') this.known.add(path);
        return entry;
      } catch (err) {
        throw this.fail(err, 'stat', path);
      }
    });
  }

  async list(dir: string): Promise<RemoteEntry[]> {
    return this.runOp('list', dir, async (s) => {
      // The directory itself is checked too: listing a link would read what it points at.
      const err = await this.enterChecked(s, dir, 'list', dir);
      if (err !== undefined) {
        // vsftpd says only "Failed to change directory": find out which case this is (a file
        // there is E_EXISTS, as ENOTDIR is for the local target).
        const there = await this.statOn(s, dir);
        if (there === undefined) throw this.fail(err, 'list', dir, 'E_NOT_FOUND');
        if (there.kind !== 'dir') throw new TargetError('E_EXISTS', `list ${quotePath(dir)}: not a directory`, { path: dir, cause: err });
        throw this.fail(err, 'list', dir, 'E_PERMISSION');
      }
      this.known.add(dir);
      try {
        const infos = await s.client.list();
        const out: RemoteEntry[] = [];
        for (const info of infos) {
          const entry = entryFromFileInfo(dir, info);
          if (entry) out.push(entry);
        }
        return out;
      } catch (err) {
        throw this.fail(err, 'list', dir, 'E_NOT_FOUND');
      }
    });
  }

  /**
   * STOR to a temp name, then MFMT (when offered), RNFR and RNTO onto the final name. Those
   * three are deferred: they leave with the session's next command (usually the next file's
   * EPSV and STOR), and this put resolves once their replies are in. A refused rename is
   * then settled on a session of its own. Without a temp name (in a staged directory): STOR
   * to the final name and the deferred MFMT only.
   */
  async put(path: string, source: PutSource, options: PutOptions): Promise<void> {
    const deadlineMs = this.settings.timeoutMs * 2 + Math.ceil((source.size / MIN_RATE_BYTES_PER_S) * 1000);
    const final = this.abs(path);
    const tempPath = options.tempPath;
    const temp = tempPath === undefined ? final : this.abs(tempPath);
    const requested = ++this.seq;
    const sent = await this.runOp(
      'put',
      path,
      async (s) => {
        await this.checkDir(s, parentOf(path), 'put', path, requested);
        if (tempPath !== undefined && parentOf(tempPath) !== parentOf(path)) await this.checkDir(s, parentOf(tempPath), 'put', path, requested);
        let stream: Readable | undefined;
        let sourceError: Error | undefined;
        try {
          let upload: Readable | Buffer;
          if (source.buffer !== undefined && !s.client.ftp.hasTLS) {
            // A small file the executor already read is written from memory as is.
            upload = source.buffer;
          } else {
            stream = source.buffer !== undefined ? Readable.from([source.buffer]) : source.open();
            stream.once('error', (e: Error) => (sourceError = e));
            upload = s.client.ftp.hasTLS ? stream.pipe(holdEmptyTlsUploadEnd(() => s.client.ftp.dataSocket)) : stream;
          }
          try {
            await s.upload(upload, temp);
          } catch (err) {
            if (sourceError) {
              throw new TargetError('E_PROTOCOL', `put ${quotePath(path)}: reading the source failed: ${sourceError.message}`, { path, cause: sourceError });
            }
            throw isReply(err, 550, 553, 450) ? await this.classifyCreateFailure(s, path, err, 'put') : this.fail(err, 'put', path);
          }
        } catch (err) {
          stream?.destroy();
          await this.removeTemp(s, temp);
          throw err instanceof TargetError ? err : this.fail(err, 'put', path);
        }
        const mfmt = s.features.mfmt ? [`MFMT ${formatMfmtTime(source.mtimeMs)} ${temp}`] : [];
        const rename = tempPath === undefined ? [] : [`RNFR ${temp}`, `RNTO ${final}`];
        // Wrapped: an async function returning a promise would wait for it here.
        return { mfmt: mfmt.length > 0, replies: mfmt.length + rename.length > 0 ? s.defer([...mfmt, ...rename]) : Promise.resolve([]) };
      },
      { deadlineMs },
    );
    let replies;
    try {
      replies = await sent.replies;
    } catch (err) {
      // The connection failed before the rename was confirmed; the engine's temp journal
      // removes the temp if it is still there, and the put is tried again.
      throw this.fail(err, 'put', path);
    }
    const mfmtReply = sent.mfmt ? replies[0] : undefined;
    const [rnfr, rnto] = replies.slice(-2) as [Reply, Reply];
    if (tempPath !== undefined && (rnfr instanceof FTPError || rnto instanceof FTPError)) {
      await this.runOp('put', path, async (s) => {
        try {
          await this.settleRename(s, rnfr, rnto, temp, final, tempPath, path, 'put');
        } catch (err) {
          await this.removeTemp(s, temp);
          throw err;
        }
      });
    }
    if (mfmtReply instanceof FTPError) throw this.fail(mfmtReply, 'set mtime', path);
  }

  /** Best effort: no temp file left behind (the engine also cleans up after a crash). */
  private async removeTemp(s: FtpSession, temp: string): Promise<void> {
    if (!s.closed) await s.client.sendIgnoringError(`DELE ${temp}`).catch(() => undefined);
  }

  /** RNFR/RNTO `from` → `to` in one write, replacing a file at `to` (see settleRename). */
  private async renameOver(s: FtpSession, from: string, to: string, fromRel: string, toRel: string, op: FtpOperation): Promise<void> {
    let replies;
    try {
      replies = await s.pipeline([`RNFR ${from}`, `RNTO ${to}`]);
    } catch (err) {
      throw this.fail(err, op, toRel);
    }
    await this.settleRename(s, replies[0]!, replies[1]!, from, to, fromRel, toRel, op);
  }

  /**
   * Judges the replies to RNFR and RNTO sent back to back. Servers disagree on renaming over
   * an existing file (most replace it; some answer 553/550): then DELE it and rename again.
   */
  private async settleRename(s: FtpSession, rnfr: Reply, rnto: Reply, from: string, to: string, fromRel: string, toRel: string, op: FtpOperation): Promise<void> {
    if (rnfr instanceof FTPError) {
      // RNTO was answered 503 (no RNFR before it): nothing was renamed.
      if (isReply(rnfr, 550, 450, 553)) {
        const there = await this.statOn(s, fromRel).catch(() => undefined);
        if (there === undefined) throw new TargetError('E_NOT_FOUND', `${op} ${quotePath(fromRel)}: no such file or directory`, { path: fromRel, cause: rnfr });
      }
      throw this.fail(rnfr, op, fromRel);
    }
    if (!(rnto instanceof FTPError)) return;
    // pure-ftpd reports a failed rename(2) as "451 Rename/move failure: <errno text>".
    if (!isReply(rnto, 550, 553, 450, 451)) throw this.fail(rnto, op, toRel);
    const existing = await this.statOn(s, toRel);
    if (existing === undefined) throw await this.classifyCreateFailure(s, toRel, rnto, op);
    if (existing.kind === 'dir') throw new TargetError('E_EXISTS', `${op} ${quotePath(toRel)}: a directory is in the way`, { path: toRel, cause: rnto });
    // A directory never replaces a file (the contract: nothing is removed to make room for one).
    if ((await this.statOn(s, fromRel))?.kind === 'dir') throw new TargetError('E_EXISTS', `${op} ${quotePath(toRel)}: a file is in the way`, { path: toRel, cause: rnto });
    // The server refused to replace an existing file: remove it, then rename again.
    try {
      await s.send(`DELE ${to}`);
      await s.send(`RNFR ${from}`);
      await s.send(`RNTO ${to}`);
    } catch (err) {
      throw this.fail(err, op, toRel);
    }
  }

  async mkdir(path: string): Promise<void> {
    if (this.known.has(path)) return;
    const requested = ++this.seq;
    return this.runOp('mkdir', path, async (s) => {
      const abs = this.abs(path);
      await this.checkDir(s, parentOf(path), 'mkdir', path, requested);
      try {
        await s.send(`MKD ${abs}`);
        this.known.add(path);
        return;
      } catch (err) {
        if (!isReply(err) || s.closed) throw this.fail(err, 'mkdir', path);
        const there = await this.statOn(s, path);
        if (there?.kind === 'dir') {
          this.known.add(path); // idempotent: it was already there
          return;
        }
        if (there !== undefined) throw new TargetError('E_EXISTS', `mkdir ${quotePath(path)}: a file is in the way`, { path, cause: err });
        throw await this.classifyCreateFailure(s, path, err, 'mkdir');
      }
    });
  }

  async remove(path: string): Promise<void> {
    const requested = ++this.seq;
    return this.runOp('remove', path, async (s) => {
      await this.checkDir(s, parentOf(path), 'remove', path, requested);
      try {
        await s.send(`DELE ${this.abs(path)}`);
      } catch (err) {
        if (!isReply(err) || s.closed) throw this.fail(err, 'remove', path);
        const there = await this.statOn(s, path);
        if (there === undefined) return; // idempotent: already gone
        if (there.kind === 'dir') throw new TargetError('E_EXISTS', `remove ${quotePath(path)}: it is a directory`, { path, cause: err });
        throw this.fail(err, 'remove', path, 'E_PERMISSION');
      }
    });
  }

  async rmdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    if (path === '') throw new TargetError('E_PERMISSION', 'rmdir of the target root is not allowed', { path });
    const deadlineMs = options.recursive ? this.opDeadlineMs * 20 : undefined;
    const requested = ++this.seq;
    await this.runOp(
      'rmdir',
      path,
      async (s) => {
        await this.checkDir(s, parentOf(path), 'rmdir', path, requested);
        if (options.recursive) {
          const there = await this.statOn(s, path).catch((err: unknown) => {
            throw this.fail(err, 'rmdir', path);
          });
          if (there === undefined) return;
          if (there.kind === 'symlink') throw linkInPathError('rmdir', path, path);
          if (there.kind !== 'dir') throw new TargetError('E_EXISTS', `rmdir ${quotePath(path)}: not a directory`, { path });
          await this.removeTree(s, path);
          return;
        }
        await this.removeEmptyDir(s, path);
      },
      deadlineMs === undefined ? {} : { deadlineMs },
    );
    this.known.forgetTree(path);
  }

  /** RMD, classifying a refusal: gone (fine), not empty, or not allowed. */
  private async removeEmptyDir(s: FtpSession, path: string): Promise<void> {
    const abs = this.abs(path);
    // A process cannot always remove its own working directory: step out first.
    if (s.cwd !== undefined && (s.cwd === abs || s.cwd.startsWith(abs + '/'))) await s.cd(this.abs(''));
    try {
      await s.send(`RMD ${abs}`);
    } catch (err) {
      if (!isReply(err) || s.closed) throw this.fail(err, 'rmdir', path);
      // RMD of a link fails (rmdir(2) does not follow it); say so rather than look through it.
      await this.checkDir(s, path, 'rmdir', path);
      const there = await this.statOn(s, path);
      if (there === undefined) return; // idempotent: already gone
      if (there.kind !== 'dir') throw new TargetError('E_EXISTS', `rmdir ${quotePath(path)}: not a directory`, { path, cause: err });
      const children = await this.listOn(s, path).catch(() => []);
      if (children.length > 0) throw new TargetError('E_NOT_EMPTY', `rmdir ${quotePath(path)}: directory not empty`, { path, cause: err });
      throw this.fail(err, 'rmdir', path, 'E_PERMISSION');
    }
  }

  /** Entries of `dir`, read after the jail check (a refusal to enter it is thrown as is). */
  private async listOn(s: FtpSession, dir: string): Promise<RemoteEntry[]> {
    const refused = await this.enterChecked(s, dir, 'rmdir', dir);
    if (refused !== undefined) throw refused;
    const out: RemoteEntry[] = [];
    for (const info of await s.client.list()) {
      const entry = entryFromFileInfo(dir, info);
      if (entry) out.push(entry);
    }
    return out;
  }

  /** Depth-first delete on one session (FTP has no recursive delete). */
  private async removeTree(s: FtpSession, dir: string): Promise<void> {
    let children: RemoteEntry[];
    try {
      children = await this.listOn(s, dir);
    } catch (err) {
      if (isReply(err, 550)) return; // vanished meanwhile
      throw this.fail(err, 'rmdir', dir);
    }
    for (const child of children) {
      if (child.kind === 'dir') {
        await this.removeTree(s, child.path);
        continue;
      }
      try {
        await s.send(`DELE ${this.abs(child.path)}`);
      } catch (err) {
        if (!isReply(err) || s.closed) throw this.fail(err, 'rmdir', child.path);
        if ((await this.statOn(s, child.path)) !== undefined) throw this.fail(err, 'rmdir', child.path, 'E_PERMISSION');
      }
    }
    await this.removeEmptyDir(s, dir);
  }

  async rename(from: string, to: string): Promise<void> {
    // Not idempotent: after a lost reply the first attempt may have happened. No retry here;
    // the engine re-plans from what is there.
    const requested = ++this.seq;
    await this.runOp(
      'rename',
      from,
      async (s) => {
        await this.checkDir(s, parentOf(from), 'rename', from, requested);
        await this.checkDir(s, parentOf(to), 'rename', to, requested);
        await this.renameOver(s, this.abs(from), this.abs(to), from, to, 'rename');
      },
      { idempotent: false },
    );
    this.known.forgetTree(from);
  }

  /** How the connection pool is doing (sessions, waits, reconnects), for `status`. */
  poolStats(): PoolStats {
    return this.pool.stats();
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
