/**
 * Why the state file cannot be used, with a stable code, the file, and what to do. The CLI
 * prints the message as it is (no stack) and exits 2.
 */
import { readFileSync, statSync } from 'node:fs';

export type StateFileErrorCode =
  | 'E_STATE_LOCKED' // another process holds it
  | 'E_STATE_CORRUPT' // not an SQLite database, or a damaged one
  | 'E_STATE_UNREADABLE'; // cannot be opened or created (permissions, a directory in the way)

export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  constructor(
    readonly code: StateFileErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

export function stateLockedError(file: string, holder: number | undefined): StateFileError {
  const who = holder !== undefined ? `sync-inotify process (pid ${holder})` : 'sync-inotify process';
  return new StateFileError('E_STATE_LOCKED', file, `state file ${file} is in use by another ${who}: two processes on one state file would corrupt it. Stop that one first, or give this one its own state file (--state FILE or state: in the config)`);
}

/**
 * The SQLite error of opening `file` as the user should read it, or undefined when it is not
 * about the file (a bug: the caller rethrows it as it is).
 */
export function stateFileErrorFor(file: string, err: unknown): StateFileError | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  const why = (err as Error).message;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return stateLockedError(file, lockHolderPid(file));
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StateFileError(
      'E_STATE_CORRUPT',
      file,
      `state file ${file} is damaged (${why}). Move it aside, with its -wal and -shm files if any (mv ${file} ${file}.broken), and start again: the next start adopts the files the target already holds (same size and mtime: not sent again) and sends the rest`,
    );
  }
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_PERM' || code === 'SQLITE_IOERR' || code.startsWith('SQLITE_IOERR_')) {
    return new StateFileError('E_STATE_UNREADABLE', file, `cannot open state file ${file} (${why}): check that it and its folder are readable and writable by this user, or give another one (--state FILE or state: in the config)`);
  }
  return undefined;
}

/**
 * The pid holding a POSIX (fcntl) lock on `file`, from /proc/locks (Linux): SQLite's locks
 * are fcntl locks, released by the kernel when their process dies, so a holder found here
 * is alive. Undefined when none is listed or /proc/locks cannot be read.
 */
export function lockHolderPid(file: string): number | undefined {
  try {
    const st = statSync(file);
    return findLockHolder(readFileSync('/proc/locks', 'utf8'), devMajor(st.dev), devMinor(st.dev), st.ino);
  } catch {
    return undefined;
  }
}

/**
 * Lines of /proc/locks look like `3: POSIX  ADVISORY  WRITE 1234 08:01:5678 1073741824 1073742335`
 * (device major:minor in hex, then the inode); blocked waiters carry a `->` and are skipped.
 */
export function findLockHolder(procLocks: string, major: number, minor: number, ino: number): number | undefined {
  for (const line of procLocks.split('\n')) {
    const m = /^\d+:\s+POSIX\s+\S+\s+\S+\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/i.exec(line);
    if (!m) continue;
    if (parseInt(m[2]!, 16) === major && parseInt(m[3]!, 16) === minor && Number(m[4]) === ino) return Number(m[1]);
  }
  return undefined;
}

/** Linux's dev_t encoding (glibc gnu_dev_major/minor). */
function devMajor(dev: number): number {
  return Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
}

function devMinor(dev: number): number {
  return Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));
}
