/**
 * A folder on a mounted file system as a target. Atomic puts (temp file in the final
 * directory, then rename), mtime kept, renames and symlinks native.
 */
import { createWriteStream, renameSync, utimesSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { joinPath } from '../../core/paths.ts';
import type { EntryKind } from '../../core/entry.ts';
import { TargetError } from '../errors.ts';
import type { TargetSpec } from '../spec.ts';
import type { PutOptions, PutSource, RemoteEntry, Target, TargetCapabilities } from '../target.ts';
import { translateLocalError } from './translate-error.ts';
import { hashFile } from '../../io/hash-file.ts';

const UNSUPPORTED_KEYS = ['password', 'passwordFile', 'tls', 'ca', 'insecure', 'identityFile', 'passphrase', 'passphraseFile', 'knownHosts', 'hostKey', 'headers', 'type'] as const;

export function createLocalTarget(spec: TargetSpec, url: URL): Target {
  for (const key of UNSUPPORTED_KEYS) {
    if (spec[key] !== undefined) {
      throw new TargetError('E_CONFIG', `target ${spec.url}: key "${key}" does not apply to a local folder: remove it`);
    }
  }
  if (url.host !== '' && url.host !== 'localhost') {
    throw new TargetError('E_CONFIG', `target ${spec.url}: file:// URLs name a local folder, not host "${url.host}": write file:///absolute/path`);
  }
  return new LocalTarget(fileURLToPath(url), spec.connections ?? LOCAL_DEFAULT_IN_FLIGHT);
}

/** File operations in flight: enough to overlap the thread pool's syscalls, not more. */
const LOCAL_DEFAULT_IN_FLIGHT = 8;

export class LocalTarget implements Target {
  readonly caps: TargetCapabilities = {
    rename: true,
    preservesMtime: true,
    symlinks: true,
    fastRecursiveRemove: true,
    hash: true,
  };
  readonly displayName: string;

  constructor(
    readonly root: string,
    readonly maxInFlight = LOCAL_DEFAULT_IN_FLIGHT,
  ) {
    this.displayName = root;
  }

  private abs(path: string): string {
    return path === '' ? this.root : join(this.root, path);
  }

  async connect(): Promise<void> {
    try {
      await fs.mkdir(this.root, { recursive: true });
      await fs.access(this.root, fs.constants.W_OK);
    } catch (err) {
      throw translateLocalError(err, 'open target folder', '');
    }
  }

  async stat(path: string): Promise<RemoteEntry | undefined> {
    try {
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
      ...(kind === 'symlink' ? { linkTarget: await fs.readlink(this.abs(path)) } : {}),
    };
  }

  async list(dir: string): Promise<RemoteEntry[]> {
    try {
      const names = await fs.readdir(this.abs(dir));
      const out: RemoteEntry[] = [];
      for (const name of names) {
        try {
          out.push(await this.entryAt(joinPath(dir, name)));
        } catch (err) {
          // Vanished between readdir and lstat, or a special file: not ours to list.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof TargetError) continue;
          throw err;
        }
      }
      return out;
    } catch (err) {
      throw translateLocalError(err, 'list', dir);
    }
  }

  async put(path: string, source: PutSource, options: PutOptions): Promise<void> {
    const final = this.abs(path);
    const temp = options.tempPath === undefined ? final : this.abs(options.tempPath);
    try {
      const seconds = source.mtimeMs / 1000;
      if (source.buffer) {
        // Small file already in memory: plain syscalls on this thread. Going through the
        // libuv pool costs two thread hand-offs per call, several times the work itself
        // for a file of a few KiB on a local disk.
        writeFileSync(temp, source.buffer, { mode: 0o644 });
        utimesSync(temp, seconds, seconds);
        if (temp !== final) renameSync(temp, final);
        return;
      }
      await pipeline(source.open(), createWriteStream(temp, { flags: 'w', mode: 0o644 }));
      await fs.utimes(temp, seconds, seconds);
      if (temp !== final) await fs.rename(temp, final);
    } catch (err) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw translateLocalError(err, 'put', path);
    }
  }

  async mkdir(path: string): Promise<void> {
    try {
      await fs.mkdir(this.abs(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        const st = await fs.lstat(this.abs(path)).catch(() => undefined);
        if (st?.isDirectory()) return;
      }
      throw translateLocalError(err, 'mkdir', path);
    }
  }

  async remove(path: string): Promise<void> {
    try {
      await fs.unlink(this.abs(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw translateLocalError(err, 'remove', path);
    }
  }

  async rmdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    try {
      if (options.recursive) await fs.rm(this.abs(path), { recursive: true, force: true });
      else await fs.rmdir(this.abs(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw translateLocalError(err, 'rmdir', path);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      await fs.rename(this.abs(from), this.abs(to));
    } catch (err) {
      throw translateLocalError(err, 'rename', from);
    }
  }

  async symlink(path: string, linkTarget: string): Promise<void> {
    // Create under a side name and rename over, so an existing entry is replaced atomically.
    const side = this.abs(path) + '.sync-inotify-link.tmp';
    try {
      await fs.rm(side, { force: true });
      await fs.symlink(linkTarget, side);
      await fs.rename(side, this.abs(path));
    } catch (err) {
      await fs.rm(side, { force: true }).catch(() => undefined);
      throw translateLocalError(err, 'symlink', path);
    }
  }

  async setMtime(path: string, mtimeMs: number): Promise<void> {
    try {
      await fs.lutimes(this.abs(path), mtimeMs / 1000, mtimeMs / 1000);
    } catch (err) {
      throw translateLocalError(err, 'set mtime', path);
    }
  }

  async hash(path: string): Promise<string> {
    try {
      return await hashFile(this.abs(path));
    } catch (err) {
      throw translateLocalError(err, 'hash', path);
    }
  }

  async close(): Promise<void> {}
}
