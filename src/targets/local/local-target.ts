/**
 * A folder on a mounted file system as a target. Atomic puts (temp file in the final
 * directory, then rename), mtime kept, renames and symlinks native, holes of a sparse
 * source kept. Names are carried byte for
 * byte: internal paths (and link texts) go to fs calls through `toFsPath` (core/names.ts).
 *
 * The root is a jail (see ../jail.ts): before each operation realpath(3) of the directory it
 * acts in must be that directory below the root as resolved at connect, so a symbolic link
 * planted on the way is refused (E_LINK_IN_PATH). realpath is one synchronous call that walks
 * the chain in C: a few microseconds, no thread-pool hop, so it runs for every operation
 * instead of trusting a cache of directories verified earlier. Files are created and read
 * with O_NOFOLLOW; unlink, rename, mkdir, rmdir, lstat and lutimes never follow the last
 * component.
 */
import { closeSync, constants as fsc, futimesSync, lstatSync, openSync, readdirSync, readlinkSync, realpathSync, renameSync, writeSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { decodeName, decodeNames, encodeName, toFsPath } from '../../core/names.ts';
import { joinPath, parentOf } from '../../core/paths.ts';
import type { EntryKind } from '../../core/entry.ts';
import { TargetError } from '../errors.ts';
import { settleRefusal } from '../refusal.ts';
import { redactUrl } from '../../log/redact.ts';
import { assertSafePath, linkInPathError, underRoot } from '../jail.ts';
import type { LocalSpec } from './options.ts';
import type { ConnectOptions, ConnectResult, PutOptions, PutSource, RemoteEntry, Target, TargetCapabilities } from '../target.ts';
import { translateLocalError } from './translate-error.ts';
import { hashFile } from '../../io/hash-file.ts';

/** New files: never through a link planted at the name (ELOOP instead, see translate-error.ts). */
const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW;

export function createLocalTarget(spec: LocalSpec, url: URL): Target {
  if (url.host !== '' && url.host !== 'localhost') {
    throw new TargetError('E_CONFIG', `target ${redactUrl(spec.url)}: file:// URLs name a local folder, not host "${url.host}": write file:///absolute/path`);
  }
  return new LocalTarget(fileURLToPath(url), spec.connections ?? LOCAL_DEFAULT_IN_FLIGHT);
}

/**
 * Holes are decided per block of this size, aligned to the file offset: the common file
 * system block, so a hole left here is a hole on disk.
 */
const HOLE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK);

/**
 * Writes `stream` to `path` leaving holes where whole blocks are zero (the caller decided the
 * source is sparse: cp --sparse=auto's rule, since Node has no SEEK_DATA to find its holes).
 * Runs of non-zero blocks go out in one positional write each; the final ftruncate gives the
 * file its size when it ends in a hole.
 */
async function writeSparse(path: string | Buffer, stream: AsyncIterable<Buffer>): Promise<void> {
  const fh = await fs.open(path, CREATE_FLAGS, 0o644);
  try {
    let pos = 0;
    let carry: Buffer | undefined;
    for await (const chunk of stream) {
      const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
      const whole = buf.length - (buf.length % HOLE_BLOCK);
      await writeNonZeroBlocks(fh, buf.subarray(0, whole), pos);
      pos += whole;
      // Keep the partial block for the next chunk: blocks stay aligned to the file offset.
      carry = whole < buf.length ? Buffer.from(buf.subarray(whole)) : undefined;
    }
    if (carry) {
      await writeNonZeroBlocks(fh, carry, pos);
      pos += carry.length;
    }
    await fh.truncate(pos);
  } finally {
    await fh.close();
  }
}

async function writeNonZeroBlocks(fh: fs.FileHandle, buf: Buffer, at: number): Promise<void> {
  const isZero = (i: number) => {
    const block = buf.subarray(i, i + HOLE_BLOCK);
    return block.equals(block.length === HOLE_BLOCK ? ZERO_BLOCK : ZERO_BLOCK.subarray(0, block.length));
  };
  let i = 0;
  while (i < buf.length) {
    while (i < buf.length && isZero(i)) i += HOLE_BLOCK;
    if (i >= buf.length) return;
    let j = i;
    while (j < buf.length && !isZero(j)) j += HOLE_BLOCK;
    const end = Math.min(j, buf.length);
    await fh.write(buf, i, end - i, at + i);
    i = end;
  }
}

/** File operations in flight: enough to overlap the thread pool's syscalls, not more. */
const LOCAL_DEFAULT_IN_FLIGHT = 8;

export class LocalTarget implements Target {
  readonly caps: TargetCapabilities = {
    preservesMtime: true,
    fastRecursiveRemove: true,
    byteNames: true,
  };
  readonly displayName: string;
  /** The root with any link in it resolved (at connect): every path is built on it. */
  private realRoot: string | undefined;

  constructor(
    readonly root: string,
    readonly maxInFlight = LOCAL_DEFAULT_IN_FLIGHT,
  ) {
    this.displayName = root;
  }

  /** The resolved root; resolved on first use when connect() was not called (a missing root stays as given). */
  private get base(): string {
    if (this.realRoot === undefined) {
      try {
        this.realRoot = realpathSync.native(this.root);
      } catch {
        return resolve(this.root);
      }
    }
    return this.realRoot;
  }

  /** The absolute internal path (names may hold escaped bytes, see core/names.ts). */
  private absPath(path: string): string {
    assertSafePath(path);
    return underRoot(this.base, path);
  }

  /** The path for fs calls: a string, or the bytes of a name that is not valid UTF-8. */
  private abs(path: string, suffix = ''): string | Buffer {
    return toFsPath(this.absPath(path) + suffix);
  }

  /**
   * Throws E_LINK_IN_PATH unless `dir` and every directory between it and the root are real
   * directories. A missing directory passes: the operation itself then fails (or, for a
   * remove, succeeds) as it would without the check, and cannot create anything through a
   * link that is not there.
   */
  private checkDir(dir: string, op: string, path: string): void {
    if (dir === '') return;
    const expected = this.absPath(dir);
    let resolved: Buffer;
    try {
      resolved = realpathSync.native(toFsPath(expected), { encoding: 'buffer' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw translateLocalError(err, op, path);
      // Missing, or a file on the way: a dangling link is neither, so name it if there is one.
      const link = this.firstLinkIn(dir);
      if (link !== undefined) throw linkInPathError(op, path, link);
      return;
    }
    if (!resolved.equals(encodeName(expected))) throw linkInPathError(op, path, this.firstLinkIn(dir), decodeName(resolved), dir);
  }

  /** The topmost segment of `dir` that is a symbolic link, for the message (rare path). */
  private firstLinkIn(dir: string): string | undefined {
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const st = lstatSync(toFsPath(underRoot(this.base, prefix)), { throwIfNoEntry: false });
      if (st === undefined) return undefined;
      if (st.isSymbolicLink()) return prefix;
    }
    return undefined;
  }

  async connect(options: ConnectOptions = {}): Promise<ConnectResult> {
    let rootCreated = false;
    try {
      if ((await fs.lstat(this.root).catch(missingAsUndefined)) === undefined) {
        if (options.rootExisted) {
          // Only the root itself: a missing parent is a mount that went away (see ConnectOptions).
          await fs.mkdir(this.root).catch((err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT') throw rootGone(this.root);
            if (err.code !== 'EEXIST') throw err;
          });
        } else {
          await fs.mkdir(this.root, { recursive: true });
        }
        rootCreated = true;
      }
      await fs.access(this.root, fs.constants.W_OK);
      // The root may be a link the operator set up: resolved once, then trusted.
      this.realRoot = await fs.realpath(this.root);
    } catch (err) {
      throw translateLocalError(err, 'open target folder', '');
    }
    return { rootCreated };
  }

  async stat(path: string): Promise<RemoteEntry | undefined> {
    try {
      this.checkDir(parentOf(path), 'stat', path);
      return await this.entryAt(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw translateLocalError(err, 'stat', path);
    }
  }

  private async entryAt(path: string): Promise<RemoteEntry> {
    const st = await fs.lstat(this.abs(path));
    const kind: EntryKind | undefined = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : undefined;
    if (kind === undefined) throw new TargetError('E_EXISTS', `${path} is a special file on the target`, { path });
    return {
      path,
      kind,
      size: kind === 'file' ? st.size : 0,
      mtimeMs: st.mtimeMs,
      ...(kind === 'symlink' ? { linkTarget: decodeName(await fs.readlink(this.abs(path), { encoding: 'buffer' })) } : {}),
    };
  }

  /**
   * The entries are lstat'ed with synchronous calls, as small puts are written: a listing's
   * metadata is cached, and a trip through the thread pool per entry cost ten times the
   * lstat (a `once` that verifies the 100 directories of a 10,000-file push spent 0.5 s).
   */
  async list(dir: string): Promise<RemoteEntry[]> {
    try {
      this.checkDir(dir, 'list', dir);
      const abs = this.abs(dir);
      const names = decodeNames(await fs.readdir(abs), () => readdirSync(abs, { encoding: 'buffer' }));
      const out: RemoteEntry[] = [];
      for (const name of names) {
        const path = joinPath(dir, name);
        const st = lstatSync(this.abs(path), { throwIfNoEntry: false });
        // Vanished between readdir and lstat, or a special file: not ours to list.
        if (st === undefined) continue;
        const kind: EntryKind | undefined = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : undefined;
        if (kind === undefined) continue;
        let linkTarget: string | undefined;
        if (kind === 'symlink') {
          try {
            linkTarget = decodeName(readlinkSync(this.abs(path), { encoding: 'buffer' }));
          } catch {
            continue; // replaced meanwhile
          }
        }
        out.push({ path, kind, size: kind === 'file' ? st.size : 0, mtimeMs: st.mtimeMs, ...(linkTarget !== undefined ? { linkTarget } : {}) });
      }
      return out;
    } catch (err) {
      throw translateLocalError(err, 'list', dir);
    }
  }

  async put(path: string, source: PutSource, options: PutOptions): Promise<void> {
    const final = this.abs(path);
    const temp = options.tempPath === undefined ? final : this.abs(options.tempPath);
    // Checked before the temp file exists, so a refusal leaves nothing to clean up.
    this.checkDir(parentOf(path), 'put', path);
    if (options.tempPath !== undefined && parentOf(options.tempPath) !== parentOf(path)) this.checkDir(parentOf(options.tempPath), 'put', path);
    try {
      const seconds = source.mtimeMs / 1000;
      if (source.buffer) {
        // Small file already in memory: plain syscalls on this thread. Going through the
        // libuv pool costs two thread hand-offs per call, several times the work itself
        // for a file of a few KiB on a local disk.
        const fd = openSync(temp, CREATE_FLAGS, 0o644);
        try {
          for (let off = 0; off < source.buffer.length; ) off += writeSync(fd, source.buffer, off);
          futimesSync(fd, seconds, seconds);
        } finally {
          closeSync(fd);
        }
        if (options.tempPath !== undefined) renameSync(temp, final);
        return;
      }
      if (source.sparse) {
        await writeSparse(temp, source.open());
      } else {
        const fh = await fs.open(temp, CREATE_FLAGS, 0o644);
        await pipeline(source.open(), fh.createWriteStream()); // closes fh
      }
      await fs.lutimes(temp, seconds, seconds);
      if (options.tempPath !== undefined) await fs.rename(temp, final);
    } catch (err) {
      // Never a link: the temp name was opened with O_NOFOLLOW, or failed to.
      if ((err as NodeJS.ErrnoException).code !== 'ELOOP') await fs.rm(temp, { force: true }).catch(() => undefined);
      throw translateLocalError(err, 'put', path);
    }
  }

  async mkdir(path: string): Promise<void> {
    try {
      this.checkDir(parentOf(path), 'mkdir', path);
      await fs.mkdir(this.abs(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        return settleRefusal({
          op: 'mkdir',
          path,
          kindAt: async () => {
            const st = await fs.lstat(this.abs(path)).catch(() => undefined);
            return st === undefined ? undefined : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
          },
          refusal: () => translateLocalError(err, 'mkdir', path),
          inTheWay: (there) => (there === 'symlink' ? linkInPathError('mkdir', path, path) : translateLocalError(err, 'mkdir', path)),
        });
      }
      throw translateLocalError(err, 'mkdir', path);
    }
  }

  async remove(path: string): Promise<void> {
    try {
      this.checkDir(parentOf(path), 'remove', path);
      await fs.unlink(this.abs(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw translateLocalError(err, 'remove', path);
    }
  }

  async rmdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    try {
      this.checkDir(parentOf(path), 'rmdir', path);
      const st = await fs.lstat(this.abs(path));
      if (st.isSymbolicLink()) throw linkInPathError('rmdir', path, path);
      // fs.rm works as rm -rf: it lstats each entry and unlinks a link without descending.
      if (options.recursive) await fs.rm(this.abs(path), { recursive: true, force: true });
      else await fs.rmdir(this.abs(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw translateLocalError(err, 'rmdir', path);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      this.checkDir(parentOf(from), 'rename', from);
      this.checkDir(parentOf(to), 'rename', to);
      await fs.rename(this.abs(from), this.abs(to));
    } catch (err) {
      throw translateLocalError(err, 'rename', from);
    }
  }

  async symlink(path: string, linkTarget: string): Promise<void> {
    // Create under a side name and rename over, so an existing entry is replaced atomically.
    const side = this.abs(path, '.sync-inotify-link.tmp');
    try {
      this.checkDir(parentOf(path), 'symlink', path);
      await fs.rm(side, { force: true });
      await fs.symlink(toFsPath(linkTarget), side);
      await fs.rename(side, this.abs(path));
    } catch (err) {
      await fs.rm(side, { force: true }).catch(() => undefined);
      throw translateLocalError(err, 'symlink', path);
    }
  }

  async hash(path: string): Promise<string> {
    try {
      this.checkDir(parentOf(path), 'hash', path);
      return await hashFile(this.absPath(path), undefined, { noFollow: true });
    } catch (err) {
      throw translateLocalError(err, 'hash', path);
    }
  }

  async close(): Promise<void> {}
}

function missingAsUndefined(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}

function rootGone(root: string): TargetError {
  return new TargetError('E_ROOT_GONE', `the target folder ${root} is gone and so is its parent folder (an unmounted disk?): waiting for it to come back`, { path: '' });
}
