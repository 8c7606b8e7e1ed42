/**
 * SFTP requests on one session that the target's operations are built of: what kind of
 * entry a mode is, lstat that tells "missing" from a failure, rename with rename(2)
 * semantics, listing a directory, and removing a tree (SFTP has none of its own). Paths here
 * are absolute remote paths (internal strings; byte-names.ts hands ssh2 their bytes).
 */
import type { Attributes, FileEntryWithStats } from 'ssh2';
import type { EntryKind } from '../../core/entry.ts';
import { joinPath } from '../../core/paths.ts';
import { linkInPathError } from '../jail.ts';
import { wirePath } from './byte-names.ts';
import type { SftpSession } from './sftp-session.ts';
import { SFTP_STATUS, isFailure, isNoSuchFile, sftpStatusOf, translateSftpError } from './translate-error.ts';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export function kindOf(mode: number): EntryKind | undefined {
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

/** lstat that reports a missing path as undefined (any other failure rejects). */
export async function lstatRaw(s: SftpSession, remote: string, op: string, path = remote): Promise<Attributes | undefined> {
  try {
    return await s.request<Attributes>('lstat', (sftp, cb) => sftp.lstat(wirePath(remote), cb));
  } catch (err) {
    if (isNoSuchFile(err)) return undefined;
    throw translateSftpError(err, op, path);
  }
}

/** The text of the link at `remote`. */
export async function readlinkRaw(s: SftpSession, remote: string, path: string): Promise<string> {
  try {
    return await s.request<string>('readlink', (sftp, cb) => sftp.readlink(wirePath(remote), cb));
  } catch (err) {
    throw translateSftpError(err, 'readlink', path);
  }
}

/** rename(2) semantics: replace an existing file at `to` (posix-rename@openssh.com). */
export async function renameOver(s: SftpSession, from: string, to: string): Promise<void> {
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
    const moving = await lstatRaw(s, from, 'rename', from).catch(() => undefined);
    if (moving !== undefined && kindOf(moving.mode) === 'dir') throw err;
    await s.request('remove', (sftp, cb) => sftp.unlink(wirePath(to), cb)).catch((e: unknown) => {
      if (!isNoSuchFile(e)) throw e;
    });
    await s.request('rename', (sftp, cb) => sftp.rename(wirePath(from), wirePath(to), cb));
  }
}

/** Raw directory entries (no readlink), for walking; a missing directory is empty. */
export async function listRaw(s: SftpSession, remote: string, path: string): Promise<FileEntryWithStats[]> {
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

/** RMDIR, classifying a refusal: gone (fine), a link, not a directory, not empty. */
export async function rmdirOne(s: SftpSession, remote: string, path: string): Promise<void> {
  try {
    await s.request('rmdir', (sftp, cb) => sftp.rmdir(wirePath(remote), cb));
  } catch (err) {
    if (!isNoSuchFile(err) && !isFailure(err)) throw translateSftpError(err, 'rmdir', path);
    const st = await lstatRaw(s, remote, 'rmdir', path);
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
 * it is read in turn (`checkDir`, the target's jail check for a directory).
 */
export async function removeTree(s: SftpSession, remote: string, path: string, checkDir: (dir: string) => Promise<void>): Promise<void> {
  await checkDir(path);
  const children = await listRaw(s, remote, path);
  await mapLimit(children, 32, async (e) => {
    const childRemote = remote === '/' ? `/${e.filename}` : `${remote}/${e.filename}`;
    const childPath = joinPath(path, e.filename);
    if (kindOf(e.attrs.mode) === 'dir') {
      await removeTree(s, childRemote, childPath, checkDir);
    } else {
      try {
        await s.request('remove', (sftp, cb) => sftp.unlink(wirePath(childRemote), cb));
      } catch (err) {
        if (!isNoSuchFile(err)) throw translateSftpError(err, 'remove', childPath);
      }
    }
  });
  await rmdirOne(s, remote, path);
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
