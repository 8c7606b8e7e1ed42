/**
 * The pid file: one running instance per name. Created exclusively (O_EXCL) by the daemon
 * itself, so two starts racing cannot both win; a pid file whose process is gone, or is no
 * sync-inotify any more (pid reused), is stale and replaced.
 */
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../config/errors.ts';

export class AlreadyRunningError extends Error {
  override readonly name = 'AlreadyRunningError';
  constructor(
    readonly pid: number,
    readonly pidFile: string,
  ) {
    super(`already running (pid ${pid}, pid file ${pidFile})`);
  }
}

export function readPid(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `pid` runs and, where /proc tells, is a sync-inotify process (not a reused pid). */
export function isOurProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline === '') return false; // a zombie: exited, not yet reaped
    return cmdline.includes('sync-inotify');
  } catch {
    return true;
  }
}

export type PidState = { state: 'none' } | { state: 'running'; pid: number } | { state: 'stale'; pid: number | undefined };

export function pidState(file: string): PidState {
  const pid = readPid(file);
  if (pid === undefined) {
    try {
      readFileSync(file);
      return { state: 'stale', pid: undefined };
    } catch {
      return { state: 'none' };
    }
  }
  return isOurProcess(pid) ? { state: 'running', pid } : { state: 'stale', pid };
}

export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/**
 * Writes our pid to `file`, refusing when a live instance holds it. Returns the pid of a
 * stale file it replaced, if any.
 */
export function acquirePidFile(file: string, pid = process.pid): { stalePid?: number | undefined; replacedStale: boolean } {
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  let replacedStale = false;
  let stalePid: number | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ConfigError(`cannot write the pid file ${file} (${(err as NodeJS.ErrnoException).code}): fix the folder's permissions or set "pidFile"`);
      }
      const st = pidState(file);
      if (st.state === 'running' && st.pid !== pid) throw new AlreadyRunningError(st.pid, file);
      stalePid = st.state === 'stale' ? st.pid : undefined;
      replacedStale = true;
      removeQuietly(file);
      continue;
    }
    try {
      writeSync(fd, `${pid}\n`);
    } finally {
      closeSync(fd);
    }
    return { stalePid, replacedStale };
  }
  throw new Error(`cannot take the pid file ${file}: another start keeps replacing it`);
}

/** Removes the pid file if it still names `pid`. */
export function releasePidFile(file: string, pid = process.pid): void {
  if (readPid(file) === pid) removeQuietly(file);
}
