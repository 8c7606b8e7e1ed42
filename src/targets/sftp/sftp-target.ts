/**
 * SFTP (and scp:// as an alias) target over ssh2, verified against OpenSSH sshd.
 *
 * URL: sftp://[user@]host[:port]/absolute/path. `sftp://host` or `sftp://host/` is the login
 * directory, `sftp://host/~/dir` a directory below it. The user defaults to the local user.
 *
 * Security: the host key is always checked (known_hosts or a pinned `hostKey`,
 * see known-hosts.ts) before anything is sent; an unknown or changed key is E_HOST_KEY.
 * Credentials, tried in this order: `identityFile` (+ `passphrase`/`passphraseFile`), the
 * ssh-agent at SSH_AUTH_SOCK, the default ~/.ssh/id_{ed25519,ecdsa,rsa} when no identityFile
 * is set, then the password (`password`, `passwordFile`, URL, SYNC_INOTIFY_PASSWORD). One
 * login per connection; a rejection is E_AUTH and the pool does not try again by itself.
 *
 * Speed: requests are pipelined on each channel (see pool.ts). A put is
 *   OPEN → [WRITE… FSETSTAT(mtime) CLOSE, sent back to back] → posix-rename
 * i.e. three round trips whatever the size; big files stream through a window of parallel
 * WRITEs at increasing offsets (fastPut's method, fed from the source stream).
 *
 * The root is a jail (../jail.ts). Before an operation acts in a directory below the root,
 * REALPATH of that directory must be the directory itself (the root was resolved at
 * connect), else E_LINK_IN_PATH. Why REALPATH per operation, not lstat per segment once per
 * session: one request whatever the depth, and no cache that would trust a directory after a
 * link was planted in its place (a daemon's session lives for days, and directories we
 * created are replaced as easily as any). It costs one request before the operation's own,
 * only for paths below a subdirectory (files in the root need none), and operations that
 * start in the same tick into the same directory share it (TickShared: a push sends a
 * directory's files together). The server may still follow a link planted at the last
 * component of an OPEN (SFTP has no O_NOFOLLOW); every other request acts on a link itself.
 *
 * Names are bytes (caps.byteNames): paths are internal strings (core/names.ts) up to the
 * ssh2 call, where `wirePath` hands over their exact bytes, and names read back are decoded
 * the same way (byte-names.ts), so a name that is not valid UTF-8 is mirrored as it is.
 */
import { readFileSync } from 'node:fs';
import { quotePath } from '../../core/names.ts';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { AnyAuthMethod, Attributes, ConnectConfig, FileEntryWithStats, ParsedKey, ServerHostKeyAlgorithm } from 'ssh2';
import type { EntryKind } from '../../core/entry.ts';
import { joinPath, parentOf } from '../../core/paths.ts';
import { TargetError } from '../errors.ts';
import { assertSafePath, linkInPathError, TickShared, underRoot } from '../jail.ts';
import { decodeUrlPart, resolvePassphrase, resolvePassword } from '../secrets.ts';
import type { SftpSpec } from './options.ts';
import type { ConnectOptions, ConnectResult, PutOptions, PutSource, RemoteEntry, Target, TargetCapabilities } from '../target.ts';
import { HostKeyPolicy } from './known-hosts.ts';
import { SftpPool, type Connector, type SftpSession } from './pool.ts';
import { loadSsh2, ssh2 } from './ssh2-module.ts';
import { wirePath } from './byte-names.ts';
import { SFTP_STATUS, isFailure, isNoSuchFile, sftpStatusOf, translateSftpError } from './translate-error.ts';

export const SFTP_DEFAULTS = {
  connections: 4,
  timeoutMs: 30_000,
  /** Operations in flight per connection before callers queue. */
  opsPerConnection: 16,
  /** Bytes of WRITE requests in flight per upload (fastPut uses 64 × 32 KiB = 2 MiB). */
  writeWindow: 4 * 1024 * 1024,
} as const;

/** The order ssh2 offers host key algorithms in by default (Node 20 has Ed25519). */
const DEFAULT_HOST_KEY_ALGOS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const ALGOS_FOR_KEY_TYPE: Record<string, string[]> = { 'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] };

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function kindOf(mode: number): EntryKind | undefined {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'dir';
    case S_IFLNK:
      return 'symlink';
    default:
      return undefined; // FIFOs, sockets, devices: not ours
  }
}

export function createSftpTarget(spec: SftpSpec, url: URL): Target {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new TargetError('E_CONFIG', `target ${redactUrl(url)}: no host: write sftp://user@host[:port]/path`);
  const port = url.port === '' ? 22 : Number(url.port);
  // Validated (and defaulted) by the registry from the declaration in backend.ts.
  const connections = spec.connections ?? SFTP_DEFAULTS.connections;
  const timeoutMs = spec.timeoutMs ?? SFTP_DEFAULTS.timeoutMs;
  return new SftpTarget({
    spec,
    url,
    host,
    port,
    username: url.username === '' ? userInfo().username : decodeUrlPart(url.username),
    root: rootOf(url),
    connections,
    timeoutMs,
  });
}

/** Remote root from the URL path: absolute, or relative to the login directory ('' = it). */
function rootOf(url: URL): string {
  const path = decodeURIComponent(url.pathname).replace(/\/+$/, '');
  if (path === '' || path === '/~') return '';
  if (path.startsWith('/~/')) return path.slice(3);
  return path;
}

function redactUrl(url: URL): string {
  const user = url.username === '' ? '' : `${url.username}@`;
  return `${url.protocol}//${user}${url.host}${url.pathname}`;
}

export interface SftpTargetOptions {
  readonly spec: SftpSpec;
  readonly url: URL;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** Absolute remote directory, or relative to the login directory ('' = the login directory). */
  readonly root: string;
  readonly connections: number;
  readonly timeoutMs: number;
}

interface Credentials {
  readonly methods: AnyAuthMethod[];
  /** What was tried, for the E_AUTH message (never the secret itself). */
  readonly summary: string;
}

export class SftpTarget implements Target {
  readonly caps: TargetCapabilities = {
    preservesMtime: true,
    fastRecursiveRemove: false,
    byteNames: true,
  };
  readonly displayName: string;
  /** Each connection pipelines up to opsPerConnection operations (pool.ts). */
  readonly maxInFlight: number;
  private readonly policy: HostKeyPolicy;
  private readonly pool: SftpPool;
  private credentials: Credentials | undefined;
  /** The root as the server resolves it (REALPATH at connect): paths are built on it. */
  private realRoot: string | undefined;
  /** Directory checks in flight per session, shared by the operations of one tick. */
  private readonly checks = new WeakMap<SftpSession, TickShared<string>>();

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
      config: (refusal) => this.connectConfig(refusal),
    };
    this.pool = new SftpPool(connector, o.connections, SFTP_DEFAULTS.opsPerConnection);
    this.maxInFlight = o.connections * SFTP_DEFAULTS.opsPerConnection;
  }

  // ---------------------------------------------------------------- connection set-up

  private connectConfig(refusal: { error?: TargetError }): ConnectConfig {
    const creds = (this.credentials ??= this.loadCredentials());
    const preferred = this.policy.preferredKeyTypes().flatMap((t) => ALGOS_FOR_KEY_TYPE[t] ?? [t]);
    const hostKeyAlgos = [...new Set([...preferred.filter((a) => DEFAULT_HOST_KEY_ALGOS.includes(a)), ...DEFAULT_HOST_KEY_ALGOS])];
    return {
      host: this.o.host,
      port: this.o.port,
      username: this.o.username,
      authHandler: creds.methods,
      // ssh2 accepts any key without this. Returning false aborts before authentication.
      hostVerifier: (key: Buffer) => {
        const error = this.policy.verify(key);
        if (error !== undefined) refusal.error = error;
        return error === undefined;
      },
      algorithms: { serverHostKey: hostKeyAlgos as ServerHostKeyAlgorithm[] },
      readyTimeout: this.o.timeoutMs,
      // Detect a dead peer on an idle pool (a reset while idle surfaces as 'close').
      keepaliveInterval: 15_000,
      keepaliveCountMax: 3,
    };
  }

  /** Build the list of login methods; reads key files (and secrets) once per connect(). */
  private loadCredentials(): Credentials {
    const { spec } = this.o;
    const username = this.o.username;
    const methods: AnyAuthMethod[] = [];
    const tried: string[] = [];
    const passphrase = resolvePassphrase(spec);
    if (spec.identityFile !== undefined) {
      methods.push({ type: 'publickey', username, key: parsePrivateKey(spec.identityFile, passphrase, true) });
      tried.push(`publickey (${spec.identityFile})`);
    }
    const agent = process.env['SSH_AUTH_SOCK'];
    if (agent !== undefined && agent !== '') {
      methods.push({ type: 'agent', username, agent });
      tried.push('ssh-agent');
    }
    if (spec.identityFile === undefined) {
      for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
        const file = join(homedir(), '.ssh', name);
        let key: ParsedKey | undefined;
        try {
          key = parsePrivateKey(file, passphrase, false);
        } catch {
          key = undefined; // a default key we cannot use is simply not offered
        }
        if (key !== undefined) {
          methods.push({ type: 'publickey', username, key });
          tried.push(`publickey (${file})`);
        }
      }
    }
    const password = resolvePassword(spec, this.o.url);
    if (password !== undefined) {
      methods.push({ type: 'password', username, password });
      tried.push('password');
    }
    if (methods.length === 0) {
      throw new TargetError('E_CONFIG', `${this.displayName}: no credentials: set identityFile, run an ssh-agent (SSH_AUTH_SOCK), or set password/passwordFile`);
    }
    return { methods, summary: `as ${username}, tried ${tried.join(', ')}` };
  }

  prewarm(): void {
    this.pool.prewarm();
  }

  async connect(options: ConnectOptions = {}): Promise<ConnectResult> {
    // An explicit connect re-reads known_hosts and key files, so an operator's fix is seen.
    this.policy.reload();
    await loadSsh2(); // parsePrivateKey below needs it
    this.credentials = this.loadCredentials();
    try {
      await this.pool.connect();
    } catch (err) {
      if (err instanceof TargetError && err.code === 'E_AUTH' && this.credentials !== undefined) {
        throw new TargetError('E_AUTH', `${err.message}; ${this.credentials.summary}`, { cause: err });
      }
      throw err;
    }
    this.realRoot = undefined;
    return this.pool.run(async (s) => {
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
    const existing = await this.lstatRaw(s, dir, 'open target root');
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
        const st = await this.lstatRaw(s, dir, 'open target root');
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
        const st = await this.lstatRaw(s, prefix, 'open target root');
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

  /**
   * Rejects with E_LINK_IN_PATH unless `dir` and the directories above it up to the root are
   * real directories (see the header). A directory that is missing passes: the operation
   * fails (or, for a delete, succeeds) on its own, and nothing can be created through a link
   * that is not there, unless it is a dangling link, which is looked for then.
   */
  private async checkDir(s: SftpSession, dir: string, op: string, path: string): Promise<void> {
    if (dir === '') return;
    const expected = underRoot(await this.rootOn(s), dir);
    let shared = this.checks.get(s);
    if (shared === undefined) this.checks.set(s, (shared = new TickShared()));
    let resolved: string;
    try {
      resolved = await shared.get(expected, () => s.request<string>('realpath', (sftp, cb) => sftp.realpath(wirePath(expected), cb)));
    } catch (err) {
      if (err instanceof TargetError) throw err; // the connection, not the path
      const link = await this.firstLinkIn(s, dir, op, path);
      if (link !== undefined) throw linkInPathError(op, path, link);
      return;
    }
    if (resolved !== expected) throw linkInPathError(op, path, await this.firstLinkIn(s, dir, op, path).catch(() => undefined), resolved, dir);
  }

  /** The topmost segment of `dir` that is a symbolic link (lstat of each, in one round trip). */
  private async firstLinkIn(s: SftpSession, dir: string, op: string, path: string): Promise<string | undefined> {
    const root = await this.rootOn(s);
    const prefixes = dir.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    const stats = await Promise.all(prefixes.map((p) => this.lstatRaw(s, underRoot(root, p), op, path)));
    for (let i = 0; i < prefixes.length; i++) {
      const st = stats[i];
      if (st === undefined) return undefined;
      if (kindOf(st.mode) === 'symlink') return prefixes[i];
    }
    return undefined;
  }

  /** lstat that reports a missing path as undefined (any other failure rejects). */
  private async lstatRaw(s: SftpSession, remote: string, op: string, path = remote): Promise<Attributes | undefined> {
    try {
      return await s.request<Attributes>('lstat', (sftp, cb) => sftp.lstat(wirePath(remote), cb));
    } catch (err) {
      if (isNoSuchFile(err)) return undefined;
      throw translateSftpError(err, op, path);
    }
  }

  private async readlink(s: SftpSession, remote: string, path: string): Promise<string> {
    try {
      return await s.request<string>('readlink', (sftp, cb) => sftp.readlink(wirePath(remote), cb));
    } catch (err) {
      throw translateSftpError(err, 'readlink', path);
    }
  }

  private async toEntry(s: SftpSession, path: string, attrs: Attributes): Promise<RemoteEntry | undefined> {
    const kind = kindOf(attrs.mode);
    if (kind === undefined) return undefined;
    return {
      path,
      kind,
      size: kind === 'file' ? attrs.size : 0,
      mtimeMs: attrs.mtime * 1000,
      ...(kind === 'symlink' ? { linkTarget: await this.readlink(s, this.abs(path), path) } : {}),
    };
  }

  /** rename(2) semantics: replace an existing file at `to` (posix-rename@openssh.com). */
  private async renameOver(s: SftpSession, from: string, to: string): Promise<void> {
    if (s.ext.posixRename) {
      await s.request('rename', (sftp, cb) => sftp.ext_openssh_rename(wirePath(from), wirePath(to), cb));
      return;
    }
    // Plain SFTP v3 rename refuses an existing destination: remove it, then rename. Not
    // atomic (a reader may briefly see no file), which is the best such servers allow. A
    // directory never replaces a file that way (the contract: nothing is removed for one).
    try {
      await s.request('rename', (sftp, cb) => sftp.rename(wirePath(from), wirePath(to), cb));
    } catch (err) {
      if (!isFailure(err)) throw err;
      const moving = await this.lstatRaw(s, from, 'rename', from).catch(() => undefined);
      if (moving !== undefined && kindOf(moving.mode) === 'dir') throw err;
      await s.request('remove', (sftp, cb) => sftp.unlink(wirePath(to), cb)).catch((e: unknown) => {
        if (!isNoSuchFile(e)) throw e;
      });
      await s.request('rename', (sftp, cb) => sftp.rename(wirePath(from), wirePath(to), cb));
    }
  }

  // ---------------------------------------------------------------- the contract

  async stat(path: string): Promise<RemoteEntry | undefined> {
    const remote = this.abs(path);
    return this.pool.run(async (s) => {
      await this.checkDir(s, parentOf(path), 'stat', path);
      const attrs = await this.lstatRaw(s, remote, 'stat', path);
      if (attrs === undefined) return undefined;
      const entry = await this.toEntry(s, path, attrs);
      if (entry === undefined) throw new TargetError('E_EXISTS', `${path} is a special file on the target`, { path });
      return entry;
    });
  }

  async list(dir: string): Promise<RemoteEntry[]> {
    const remote = this.abs(dir);
    return this.pool.run(async (s) => {
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
    await this.pool.run(async (s) => {
      const checks = [this.checkDir(s, parentOf(path), 'put', path)];
      if (options.tempPath !== undefined && parentOf(options.tempPath) !== parentOf(path)) checks.push(this.checkDir(s, parentOf(options.tempPath), 'put', path));
      await Promise.all(checks);
      await this.upload(s, path, finalAbs, tempAbs, source);
    });
  }

  private async upload(s: SftpSession, path: string, finalAbs: string, tempAbs: string, source: PutSource): Promise<void> {
    // Start reading the source while OPEN is in flight. A file the engine already read whole
    // is one chunk: no stream to set up and tear down per small file.
    const stream: Readable | undefined = source.buffer === undefined ? source.open() : undefined;
    const chunks = stream ? (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]() : oneChunk(source.buffer!);
    const opening = s.request<Buffer>('open', (sftp, cb) => sftp.open(wirePath(tempAbs), 'w', { mode: 0o644 }, cb));
    opening.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    let handle: Buffer | undefined; // set while the temp file is open
    let opened = false;
    let firstError: unknown;
    let stage = 'open';
    const inflight = new Set<Promise<void>>();
    let inflightBytes = 0;
    let position = 0;
    /** Issue-and-forget: the first failure is kept, the rest of the pipeline drains. */
    const track = (p: Promise<void>, bytes: number): void => {
      inflightBytes += bytes;
      const t = p.then(
        () => {
          inflightBytes -= bytes;
        },
        (err: unknown) => {
          inflightBytes -= bytes;
          firstError ??= err;
        },
      );
      inflight.add(t);
      void t.finally(() => inflight.delete(t));
    };
    try {
      for (;;) {
        let next: IteratorResult<Buffer | string>;
        try {
          next = await chunks.next();
        } catch (err) {
          // The local source failed (vanished, unreadable): not the server's fault.
          const code = (err as NodeJS.ErrnoException).code ?? 'error';
          throw new TargetError('E_NOT_FOUND', `put ${quotePath(path)}: reading the local source failed (${code}); the path will be looked at again`, { path, cause: err });
        }
        if (next.done) break;
        const buf = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
        if (handle === undefined) {
          handle = await opening;
          opened = true;
          stage = 'write';
        }
        if (firstError !== undefined) break;
        const h = handle;
        for (let off = 0; off < buf.length; off += s.maxWriteLen) {
          const part = buf.subarray(off, off + s.maxWriteLen);
          const at = position;
          position += part.length;
          track(s.request('write', (sftp, cb) => sftp.write(h, part, 0, part.length, at, cb)), part.length);
        }
        // Bounded memory: wait while too many bytes are on the wire.
        while (inflightBytes > SFTP_DEFAULTS.writeWindow && firstError === undefined) await Promise.race(inflight);
      }
      if (handle === undefined) {
        handle = await opening; // a zero-byte file never enters the loop
        opened = true;
      }
      const h = handle;
      if (firstError === undefined) {
        // Sent behind the writes without waiting for them: OpenSSH handles a channel's
        // requests in order, and the protocol requires it for requests on one handle.
        stage = 'set mtime';
        const seconds = Math.floor(source.mtimeMs / 1000);
        track(s.request('futimes', (sftp, cb) => sftp.futimes(h, seconds, seconds, cb)), 0);
      }
      handle = undefined;
      const closing = s.request('close', (sftp, cb) => sftp.close(h, cb));
      closing.catch(() => undefined); // awaited below, after the writes
      await Promise.all(inflight);
      try {
        await closing;
      } catch (err) {
        firstError ??= err;
      }
      if (firstError !== undefined) throw firstError;
      stage = 'rename';
      if (tempAbs !== finalAbs) await this.renameOver(s, tempAbs, finalAbs);
    } catch (err) {
      stream?.destroy();
      await Promise.all(inflight);
      if (!opened) {
        // The source failed before OPEN answered: close the handle if it still arrives.
        handle = await opening.then(
          (h) => ((opened = true), h),
          () => undefined,
        );
      }
      if (handle !== undefined) {
        const h = handle;
        await s.request('close', (sftp, cb) => sftp.close(h, cb)).catch(() => undefined);
      }
      const translated = await this.explainPutFailure(s, err, stage, path, tempAbs, finalAbs);
      // Best effort: the engine also journals temp paths and cleans them at start.
      if (opened && s.isOpen) await s.request('remove temp', (sftp, cb) => sftp.unlink(wirePath(tempAbs), cb)).catch(() => undefined);
      throw translated;
    }
  }

  /** SFTP v3 says "Failure" for EEXIST, EISDIR, ENOSPC …: look before naming the error. */
  private async explainPutFailure(s: SftpSession, err: unknown, stage: string, path: string, tempAbs: string, finalAbs: string): Promise<TargetError> {
    if (err instanceof TargetError || !isFailure(err) || !s.isOpen) return translateSftpError(err, `put (${stage})`, path);
    try {
      if (stage === 'open' || stage === 'rename') {
        const st = await this.lstatRaw(s, stage === 'open' ? tempAbs : finalAbs, 'put', path);
        if (st !== undefined && kindOf(st.mode) === 'dir') return translateSftpError(err, `put (${stage}): a directory is in the way`, path, 'E_EXISTS');
      }
      if ((stage === 'write' || stage === 'set mtime') && s.ext.statvfs) {
        const dir = tempAbs.includes('/') ? tempAbs.slice(0, tempAbs.lastIndexOf('/')) || '/' : '.';
        const vfs = await s.request<{ f_bavail: number | bigint; f_frsize: number | bigint }>('statvfs', (sftp, cb) => sftp.ext_openssh_statvfs(wirePath(dir), cb));
        const free = Number(vfs.f_bavail) * Number(vfs.f_frsize);
        if (free < 1024 * 1024) return translateSftpError(err, `put (${stage}): only ${free} bytes free on the server`, path, 'E_NO_SPACE');
      }
    } catch {
      // Looking failed too: report the original error.
    }
    return translateSftpError(err, `put (${stage})`, path);
  }

  async mkdir(path: string): Promise<void> {
    const remote = this.abs(path);
    await this.pool.run(async (s) => {
      await this.checkDir(s, parentOf(path), 'mkdir', path);
      try {
        await s.request('mkdir', (sftp, cb) => sftp.mkdir(wirePath(remote), { mode: 0o755 }, cb));
      } catch (err) {
        if (!isFailure(err)) throw translateSftpError(err, 'mkdir', path);
        // "Failure" is most likely EEXIST: idempotent when it is a directory.
        const st = await this.lstatRaw(s, remote, 'mkdir', path);
        if (st !== undefined && kindOf(st.mode) === 'dir') return;
        if (st !== undefined && kindOf(st.mode) === 'symlink') throw linkInPathError('mkdir', path, path);
        throw translateSftpError(err, 'mkdir', path, st === undefined ? 'E_PROTOCOL' : 'E_EXISTS');
      }
    });
  }

  async remove(path: string): Promise<void> {
    const remote = this.abs(path);
    await this.pool.run(async (s) => {
      await this.checkDir(s, parentOf(path), 'remove', path);
      try {
        await s.request('remove', (sftp, cb) => sftp.unlink(wirePath(remote), cb));
      } catch (err) {
        if (isNoSuchFile(err)) return;
        if (!isFailure(err)) throw translateSftpError(err, 'remove', path);
        const st = await this.lstatRaw(s, remote, 'remove', path);
        if (st === undefined) return;
        throw translateSftpError(err, 'remove', path, kindOf(st.mode) === 'dir' ? 'E_EXISTS' : 'E_PROTOCOL');
      }
    });
  }

  async rmdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const remote = this.abs(path);
    await this.pool.run(async (s) => {
      await this.checkDir(s, parentOf(path), 'rmdir', path);
      if (options.recursive) {
        const st = await this.lstatRaw(s, remote, 'rmdir', path);
        if (st === undefined) return;
        if (kindOf(st.mode) === 'symlink') throw linkInPathError('rmdir', path, path);
        if (kindOf(st.mode) !== 'dir') throw new TargetError('E_EXISTS', `rmdir ${quotePath(path)}: not a directory`, { path });
        await this.removeTree(s, remote, path);
        return;
      }
      await this.rmdirOne(s, remote, path);
    });
  }

  private async rmdirOne(s: SftpSession, remote: string, path: string): Promise<void> {
    try {
      await s.request('rmdir', (sftp, cb) => sftp.rmdir(wirePath(remote), cb));
    } catch (err) {
      if (!isNoSuchFile(err) && !isFailure(err)) throw translateSftpError(err, 'rmdir', path);
      const st = await this.lstatRaw(s, remote, 'rmdir', path);
      if (st === undefined) return; // already gone: idempotent
      if (kindOf(st.mode) === 'symlink') throw linkInPathError('rmdir', path, path);
      if (kindOf(st.mode) !== 'dir') throw translateSftpError(err, 'rmdir: not a directory', path, 'E_EXISTS');
      // OpenSSH reports ENOTEMPTY as a bare "Failure".
      throw translateSftpError(err, 'rmdir: directory not empty', path, 'E_NOT_EMPTY');
    }
  }

  /**
   * Depth-first delete by walking (SFTP has no recursive remove); siblings in parallel.
   * READDIR reports links as links (OpenSSH lstats): they are unlinked, never descended. A
   * directory replaced by a link after its parent was read is caught by the check before
   * it is read in turn.
   */
  private async removeTree(s: SftpSession, remote: string, path: string): Promise<void> {
    await this.checkDir(s, path, 'rmdir', path);
    const children = await this.listRaw(s, remote, path);
    await mapLimit(children, 32, async (e) => {
      const childRemote = remote === '/' ? `/${e.filename}` : `${remote}/${e.filename}`;
      const childPath = joinPath(path, e.filename);
      if (kindOf(e.attrs.mode) === 'dir') {
        await this.removeTree(s, childRemote, childPath);
      } else {
        try {
          await s.request('remove', (sftp, cb) => sftp.unlink(wirePath(childRemote), cb));
        } catch (err) {
          if (!isNoSuchFile(err)) throw translateSftpError(err, 'remove', childPath);
        }
      }
    });
    await this.rmdirOne(s, remote, path);
  }

  /** Raw directory entries (no readlink), for walking; a missing directory is empty. */
  private async listRaw(s: SftpSession, remote: string, path: string): Promise<FileEntryWithStats[]> {
    let handle: Buffer;
    try {
      handle = await s.request<Buffer>('opendir', (sftp, cb) => sftp.opendir(wirePath(remote), cb));
    } catch (err) {
      if (isNoSuchFile(err)) return [];
      throw translateSftpError(err, 'list', path);
    }
    const out: FileEntryWithStats[] = [];
    try {
      for (;;) {
        try {
          out.push(...(await s.request<FileEntryWithStats[]>('readdir', (sftp, cb) => sftp.readdir(handle, cb))));
        } catch (err) {
          if (sftpStatusOf(err) === SFTP_STATUS.EOF) break;
          throw translateSftpError(err, 'list', path);
        }
      }
    } finally {
      await s.request('close', (sftp, cb) => sftp.close(handle, cb)).catch(() => undefined);
    }
    return out.filter((e) => e.filename !== '.' && e.filename !== '..');
  }

  async rename(from: string, to: string): Promise<void> {
    const fromAbs = this.abs(from);
    const toAbs = this.abs(to);
    await this.pool.run(async (s) => {
      await Promise.all([this.checkDir(s, parentOf(from), 'rename', from), this.checkDir(s, parentOf(to), 'rename', to)]);
      try {
        await this.renameOver(s, fromAbs, toAbs);
      } catch (err) {
        if (!isFailure(err)) throw translateSftpError(err, 'rename', from);
        const st = await this.lstatRaw(s, toAbs, 'rename', to);
        throw translateSftpError(err, `rename to ${quotePath(to)}`, from, st === undefined ? 'E_PROTOCOL' : 'E_EXISTS');
      }
    });
  }

  async symlink(path: string, linkTarget: string): Promise<void> {
    const remote = this.abs(path);
    // Create under a side name and rename over, so an existing entry is replaced atomically.
    const side = `${remote}.sync-inotify-link.tmp`;
    await this.pool.run(async (s) => {
      await this.checkDir(s, parentOf(path), 'symlink', path);
      try {
        await s.request('remove', (sftp, cb) => sftp.unlink(wirePath(side), cb)).catch((err: unknown) => {
          if (!isNoSuchFile(err)) throw err;
        });
        await s.request('symlink', (sftp, cb) => sftp.symlink(wirePath(linkTarget), wirePath(side), cb));
        await this.renameOver(s, side, remote);
      } catch (err) {
        await s.request('remove', (sftp, cb) => sftp.unlink(wirePath(side), cb)).catch(() => undefined);
        throw translateSftpError(err, 'symlink', path);
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** Parse a private key file; a missing or unusable key is an error only when asked for explicitly. */
function parsePrivateKey(file: string, passphrase: string | undefined, explicit: boolean): ParsedKey {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TargetError('E_CONFIG', `cannot read identityFile ${file} (${code}): check the path and its permissions`);
  }
  const parsed = ssh2().utils.parseKey(data, passphrase);
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | Error | undefined) : parsed;
  if (key === undefined || key instanceof Error) {
    const why = key instanceof Error ? key.message : 'no key found';
    if (/no passphrase given/i.test(why)) {
      throw new TargetError('E_CONFIG', `identityFile ${file} is encrypted: set passphrase or passphraseFile`);
    }
    if (/passphrase|decrypt|bad/i.test(why) && passphrase !== undefined) {
      throw new TargetError('E_AUTH', `identityFile ${file} could not be decrypted: the passphrase is wrong`);
    }
    throw new TargetError(explicit ? 'E_CONFIG' : 'E_AUTH', `identityFile ${file} is not a usable private key (${why})`);
  }
  if (!key.isPrivateKey()) throw new TargetError('E_CONFIG', `identityFile ${file} holds a public key: point it at the private key file`);
  return key;
}

/** Run `fn` over `items`, at most `limit` at a time; rejects with the first failure. */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** An async iterator over a single buffer (the shape of a stream's chunks). */
function oneChunk(buffer: Buffer): AsyncIterator<Buffer> {
  let given = false;
  return {
    next: async () => {
      if (given) return { done: true, value: undefined };
      given = true;
      return { done: false, value: buffer };
    },
  };
}
