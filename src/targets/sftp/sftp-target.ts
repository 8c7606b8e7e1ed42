/**
 * SFTP (and scp:// as an alias) target over ssh2, verified against OpenSSH sshd. The parts,
 * one concept each: sftp-settings.ts (URL, defaults), credentials.ts (login and host key),
 * sftp-session.ts (one connection and its requests; the shared pool ../pool/ holds them), dir-check.ts (the jail), remote-ops.ts (requests
 * the operations are built of), upload.ts (a put's pipelined requests), byte-names.ts (names
 * as bytes). This file is the contract on top of them.
 *
 * One login per connection; a rejection is E_AUTH and the pool does not try again by itself.
 * Requests are pipelined on each channel: the pool gives a session up to opsPerConnection
 * operations at once, and leaves the deadline to the session's own liveness check.
 *
 * The root is a jail (../jail.ts, dir-check.ts): before an operation acts in a directory
 * below the root, REALPATH of that directory must be the directory itself. It costs one
 * request before the operation's own, only for paths below a subdirectory (files in the root
 * need none). The server may still follow a link planted at the last component of an OPEN
 * (SFTP has no O_NOFOLLOW); every other request acts on a link itself.
 *
 * Names are bytes (caps.byteNames): paths are internal strings (core/names.ts) up to the
 * ssh2 call, where `wirePath` hands over their exact bytes, and names read back are decoded
 * the same way (byte-names.ts), so a name that is not valid UTF-8 is mirrored as it is.
 */
import { quotePath } from '../../core/names.ts';
import { joinPath, parentOf } from '../../core/paths.ts';
import type { Attributes, FileEntryWithStats } from 'ssh2';
import { TargetError } from '../errors.ts';
import { SessionPool, type PoolStats } from '../pool/session-pool.ts';
import { assertSafePath, linkInPathError, underRoot } from '../jail.ts';
import type { ConnectOptions, ConnectResult, PutOptions, PutSource, RemoteEntry, Target, TargetCapabilities } from '../target.ts';
import { wirePath } from './byte-names.ts';
import { loadCredentials, sshConfig, type Credentials } from './credentials.ts';
import { DirChecks } from './dir-check.ts';
import { HostKeyPolicy } from './known-hosts.ts';
import type { SftpSpec } from './options.ts';
import { SftpSession, type Connector } from './sftp-session.ts';
import { kindOf, lstatRaw, readlinkRaw, removeTree, renameOver, rmdirOne } from './remote-ops.ts';
import { SFTP_DEFAULTS, sftpSettings, type SftpTargetOptions } from './sftp-settings.ts';
import { loadSsh2 } from './ssh2-module.ts';
import { SFTP_STATUS, isFailure, isNoSuchFile, sftpStatusOf, translateSftpError } from './translate-error.ts';
import { upload } from './upload.ts';

export { SFTP_DEFAULTS } from './sftp-settings.ts';

export function createSftpTarget(spec: SftpSpec, url: URL): Target {
  return new SftpTarget(sftpSettings(spec, url));
}

export class SftpTarget implements Target {
  readonly caps: TargetCapabilities = {
    preservesMtime: true,
    fastRecursiveRemove: false,
    byteNames: true,
  };
  readonly displayName: string;
  /** Each connection pipelines up to opsPerConnection operations (sftp-session.ts). */
  readonly maxInFlight: number;
  private readonly policy: HostKeyPolicy;
  private readonly pool: SessionPool<SftpSession>;
  private credentials: Credentials | undefined;
  /** The root as the server resolves it (REALPATH at connect): paths are built on it. */
  private realRoot: string | undefined;
  private readonly dirChecks = new DirChecks();

  constructor(private readonly o: SftpTargetOptions) {
    this.displayName = `${o.url.protocol}//${o.username}@${o.host.includes(':') ? `[${o.host}]` : o.host}${o.port === 22 ? '' : `:${o.port}`}${o.url.pathname}`;
    this.policy = new HostKeyPolicy({
      host: o.host,
      port: o.port,
      ...(o.spec.hostKey === undefined ? {} : { pin: o.spec.hostKey }),
      ...(o.spec.knownHosts === undefined ? {} : { knownHostsFile: o.spec.knownHosts }),
    });
    const connector: Connector = {
      what: this.displayName,
      timeoutMs: o.timeoutMs,
      config: (refusal) => sshConfig(this.o, this.policy, (this.credentials ??= loadCredentials(this.o, this.displayName)), refusal),
    };
    this.pool = new SessionPool({ what: this.displayName, open: (abort) => SftpSession.open(connector, abort) }, {
      size: o.connections,
      perSession: SFTP_DEFAULTS.opsPerConnection,
      // No fail-fast cool-down: the first use after the server is back connects at once. The
      // pool's paced attempts still space logins, and the engine's backoff spaces the rest.
      coolDownMs: 0,
    });
    this.maxInFlight = o.connections * SFTP_DEFAULTS.opsPerConnection;
  }

  prewarm(): void {
    this.pool.prewarm();
  }

  async connect(options: ConnectOptions = {}): Promise<ConnectResult> {
    // An explicit connect re-reads known_hosts and key files, so an operator's fix is seen.
    this.policy.reload();
    await loadSsh2(); // parsePrivateKey below needs it
    this.credentials = loadCredentials(this.o, this.displayName);
    try {
      this.pool.reset();
      await this.run('connect', '', async () => undefined);
    } catch (err) {
      if (err instanceof TargetError && err.code === 'E_AUTH' && this.credentials !== undefined) {
        throw new TargetError('E_AUTH', `${err.message}; ${this.credentials.summary}`, { cause: err });
      }
      throw err;
    }
    this.realRoot = undefined;
    return this.run('open target root', '', async (s) => {
      const result = this.o.root === '' ? { rootCreated: false } : await this.mkdirs(s, this.o.root, options.rootExisted ?? false);
      await this.rootOn(s);
      return result;
    });
  }

  /** The resolved root; the operator may have made the configured root a link. */
  private async rootOn(s: SftpSession): Promise<string> {
    if (this.realRoot !== undefined) return this.realRoot;
    const configured = this.o.root === '' ? '.' : this.o.root;
    try {
      this.realRoot = await s.request<string>('realpath', (sftp, cb) => sftp.realpath(wirePath(configured), cb));
    } catch (err) {
      throw translateSftpError(err, 'open target root', '');
    }
    return this.realRoot;
  }

  /**
   * `mkdir -p` for the root (absolute or login-relative), from the top down; only the root
   * itself when it existed before (see ConnectOptions.rootExisted).
   */
  private async mkdirs(s: SftpSession, dir: string, rootExisted: boolean): Promise<ConnectResult> {
    const existing = await lstatRaw(s, dir, 'open target root');
    if (existing !== undefined) {
      if (kindOf(existing.mode) === 'dir') return { rootCreated: false };
      // The root (unlike anything below it) may be a link the operator set up to a directory.
      if (kindOf(existing.mode) === 'symlink') {
        const target = await s.request<Attributes>('stat', (sftp, cb) => sftp.stat(wirePath(dir), cb)).catch(() => undefined);
        if (target !== undefined && kindOf(target.mode) === 'dir') return { rootCreated: false };
      }
      throw new TargetError('E_CONFIG', `${this.displayName}: the target root ${dir} exists but is not a directory`);
    }
    if (rootExisted) {
      try {
        await s.request('mkdir', (sftp, cb) => sftp.mkdir(wirePath(dir), cb));
      } catch (err) {
        const st = await lstatRaw(s, dir, 'open target root');
        if (st === undefined) throw new TargetError('E_ROOT_GONE', `the target root ${dir} on ${this.displayName} is gone and cannot be created again (is its parent folder gone too?): waiting for it to come back`, { path: '', cause: err });
        if (kindOf(st.mode) !== 'dir') throw translateSftpError(err, 'create target root', dir);
      }
      return { rootCreated: true };
    }
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (prefix === '') continue;
      try {
        await s.request('mkdir', (sftp, cb) => sftp.mkdir(wirePath(prefix), cb));
      } catch (err) {
        const st = await lstatRaw(s, prefix, 'open target root');
        if (st === undefined || kindOf(st.mode) !== 'dir') throw translateSftpError(err, 'create target root', prefix);
      }
    }
    return { rootCreated: true };
  }

  // ---------------------------------------------------------------- paths and helpers

  private abs(path: string): string {
    assertSafePath(path);
    const root = this.realRoot ?? this.o.root;
    if (path === '') return root === '' ? '.' : root;
    if (root === '') return path;
    return underRoot(root, path);
  }

  /** The jail check for `dir` (dir-check.ts), against the resolved root. */
  private async checkDir(s: SftpSession, dir: string, op: string, path: string): Promise<void> {
    if (dir === '') return;
    await this.dirChecks.check(s, await this.rootOn(s), dir, op, path);
  }

  private async toEntry(s: SftpSession, path: string, attrs: Attributes): Promise<RemoteEntry | undefined> {
    const kind = kindOf(attrs.mode);
    if (kind === undefined) return undefined;
    return {
      path,
      kind,
      size: kind === 'file' ? attrs.size : 0,
      mtimeMs: attrs.mtime * 1000,
      ...(kind === 'symlink' ? { linkTarget: await readlinkRaw(s, this.abs(path), path) } : {}),
    };
  }

  // ---------------------------------------------------------------- the contract

  async stat(path: string): Promise<RemoteEntry | undefined> {
    const remote = this.abs(path);
    return this.run('stat', path, async (s) => {
      await this.checkDir(s, parentOf(path), 'stat', path);
      const attrs = await lstatRaw(s, remote, 'stat', path);
      if (attrs === undefined) return undefined;
      const entry = await this.toEntry(s, path, attrs);
      if (entry === undefined) throw new TargetError('E_EXISTS', `${path} is a special file on the target`, { path });
      return entry;
    });
  }

  async list(dir: string): Promise<RemoteEntry[]> {
    const remote = this.abs(dir);
    return this.run('list', dir, async (s) => {
      await this.checkDir(s, dir, 'list', dir);
      let handle: Buffer;
      try {
        handle = await s.request<Buffer>('opendir', (sftp, cb) => sftp.opendir(wirePath(remote), cb));
      } catch (err) {
        throw translateSftpError(err, 'list', dir);
      }
      const names: FileEntryWithStats[] = [];
      try {
        // READDIR on a handle returns a batch per call until EOF; each call has its own deadline.
        for (;;) {
          let batch: FileEntryWithStats[];
          try {
            batch = await s.request<FileEntryWithStats[]>('readdir', (sftp, cb) => sftp.readdir(handle, cb));
          } catch (err) {
            if (sftpStatusOf(err) === SFTP_STATUS.EOF) break;
            throw translateSftpError(err, 'list', dir);
          }
          names.push(...batch);
        }
      } finally {
        await s.request('close', (sftp, cb) => sftp.close(handle, cb)).catch(() => undefined);
      }
      const entries = await Promise.all(
        names
          .filter((e) => e.filename !== '.' && e.filename !== '..')
          .map(async (e) => {
            try {
              return await this.toEntry(s, joinPath(dir, e.filename), e.attrs);
            } catch (err) {
              // A link removed between READDIR and READLINK is simply gone.
              if (err instanceof TargetError && err.code === 'E_NOT_FOUND') return undefined;
              throw err;
            }
          }),
      );
      return entries.filter((e): e is RemoteEntry => e !== undefined);
    });
  }

  async put(path: string, source: PutSource, options: PutOptions): Promise<void> {
    const finalAbs = this.abs(path);
    const tempAbs = options.tempPath === undefined ? finalAbs : this.abs(options.tempPath);
    await this.run('put', path, async (s) => {
      const checks = [this.checkDir(s, parentOf(path), 'put', path)];
      if (options.tempPath !== undefined && parentOf(options.tempPath) !== parentOf(path)) checks.push(this.checkDir(s, parentOf(options.tempPath), 'put', path));
      await Promise.all(checks);
      await upload(s, path, finalAbs, tempAbs, source);
    });
  }

  async mkdir(path: string): Promise<void> {
    const remote = this.abs(path);
    await this.run('mkdir', path, async (s) => {
      await this.checkDir(s, parentOf(path), 'mkdir', path);
      try {
        await s.request('mkdir', (sftp, cb) => sftp.mkdir(wirePath(remote), { mode: 0o755 }, cb));
      } catch (err) {
        if (!isFailure(err)) throw translateSftpError(err, 'mkdir', path);
        // "Failure" is most likely EEXIST: idempotent when it is a directory.
        const st = await lstatRaw(s, remote, 'mkdir', path);
        if (st !== undefined && kindOf(st.mode) === 'dir') return;
        if (st !== undefined && kindOf(st.mode) === 'symlink') throw linkInPathError('mkdir', path, path);
        throw translateSftpError(err, 'mkdir', path, st === undefined ? 'E_PROTOCOL' : 'E_EXISTS');
      }
    });
  }

  async remove(path: string): Promise<void> {
    const remote = this.abs(path);
    await this.run('remove', path, async (s) => {
      await this.checkDir(s, parentOf(path), 'remove', path);
      try {
        await s.request('remove', (sftp, cb) => sftp.unlink(wirePath(remote), cb));
      } catch (err) {
        if (isNoSuchFile(err)) return;
        if (!isFailure(err)) throw translateSftpError(err, 'remove', path);
        const st = await lstatRaw(s, remote, 'remove', path);
        if (st === undefined) return;
        throw translateSftpError(err, 'remove', path, kindOf(st.mode) === 'dir' ? 'E_EXISTS' : 'E_PROTOCOL');
      }
    });
  }

  async rmdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const remote = this.abs(path);
    await this.run('rmdir', path, async (s) => {
      await this.checkDir(s, parentOf(path), 'rmdir', path);
      if (options.recursive) {
        const st = await lstatRaw(s, remote, 'rmdir', path);
        if (st === undefined) return;
        if (kindOf(st.mode) === 'symlink') throw linkInPathError('rmdir', path, path);
        if (kindOf(st.mode) !== 'dir') throw new TargetError('E_EXISTS', `rmdir ${quotePath(path)}: not a directory`, { path });
        await removeTree(s, remote, path, (dir) => this.checkDir(s, dir, 'rmdir', dir));
        return;
      }
      await rmdirOne(s, remote, path);
    });
  }

  async rename(from: string, to: string): Promise<void> {
    const fromAbs = this.abs(from);
    const toAbs = this.abs(to);
    await this.run('rename', from, async (s) => {
      await Promise.all([this.checkDir(s, parentOf(from), 'rename', from), this.checkDir(s, parentOf(to), 'rename', to)]);
      try {
        await renameOver(s, fromAbs, toAbs);
      } catch (err) {
        if (!isFailure(err)) throw translateSftpError(err, 'rename', from);
        const st = await lstatRaw(s, toAbs, 'rename', to);
        throw translateSftpError(err, `rename to ${quotePath(to)}`, from, st === undefined ? 'E_PROTOCOL' : 'E_EXISTS');
      }
    }, false);
  }

  async symlink(path: string, linkTarget: string): Promise<void> {
    const remote = this.abs(path);
    // Create under a side name and rename over, so an existing entry is replaced atomically.
    const side = `${remote}.sync-inotify-link.tmp`;
    await this.run('symlink', path, async (s) => {
      await this.checkDir(s, parentOf(path), 'symlink', path);
      try {
        await s.request('remove', (sftp, cb) => sftp.unlink(wirePath(side), cb)).catch((err: unknown) => {
          if (!isNoSuchFile(err)) throw err;
        });
        await s.request('symlink', (sftp, cb) => sftp.symlink(wirePath(linkTarget), wirePath(side), cb));
        await renameOver(s, side, remote);
      } catch (err) {
        await s.request('remove', (sftp, cb) => sftp.unlink(wirePath(side), cb)).catch(() => undefined);
        throw translateSftpError(err, 'symlink', path);
      }
    });
  }

  /**
   * An operation on a pooled session. Idempotent ones are retried once on a fresh session
   * after the connection was lost (not after a timeout); the deadline is the session's own
   * liveness check (sftp-session.ts), so a large upload that keeps progressing never times out.
   */
  private run<T>(label: string, path: string, fn: (s: SftpSession) => Promise<T>, idempotent = true): Promise<T> {
    return this.pool.run(fn, { idempotent, deadlineMs: undefined, label, path });
  }

  /** How the connection pool is doing (sessions, waits, reconnects), for `status`. */
  poolStats(): PoolStats {
    return this.pool.stats();
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
