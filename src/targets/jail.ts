/**
 * The target root is a jail: nothing a backend does may act outside it.
 *
 * Two ways out exist. A '..' (or empty, or '.') segment in a relative path: refused here at
 * the target boundary (E_NAME), whatever the engine sends. And a symbolic link planted on
 * the target where we recorded a directory: a server (or the kernel) follows it, so a put,
 * mkdir, remove or rename below it would act on whatever it points at. Every backend
 * therefore verifies, before each operation, that the directories between the root and the
 * path are real directories, and refuses with E_LINK_IN_PATH (scope 'path') otherwise:
 *   - local: realpath(3) of the parent must be root/parent (one call walking the chain in C);
 *   - SFTP: REALPATH of the parent must be root/parent (one request, shared by the
 *     operations that start in the same tick);
 *   - FTP: CWD to the parent, then PWD must show root/parent (one round trip).
 * The last component itself is never followed either: unlink, rename, mkdir, rmdir, lstat and
 * symlink act on a link itself, files are opened with O_NOFOLLOW where the API allows it, and
 * a recursive removal refuses a link and never descends through one.
 *
 * The check runs before every operation: a cache of verified directories would keep the
 * jail open for a link planted after the first check, for as long as the cache lives (a
 * daemon's connection lives for days). What is left is the window between the check and the
 * operation itself (microseconds locally, one round trip remotely): Node has no openat(2),
 * and no file protocol we speak has one either.
 *
 * The root itself may be a link the operator configured: it is resolved once, at connect.
 */
import { isSafeRelativePath } from '../core/paths.ts';
import { TargetError } from './errors.ts';

/** Rejects with E_NAME any path that is not a well-formed relative path (see isSafeRelativePath). */
export function assertSafePath(path: string): void {
  if (!isSafeRelativePath(path)) {
    throw new TargetError('E_NAME', `refusing path ${JSON.stringify(path)}: not a safe relative path (a leading or trailing '/', an empty, '.' or '..' segment, or a NUL)`, { path });
  }
}

/** The absolute path of relative `path` below absolute `root` (POSIX; '' is the root). */
export function underRoot(root: string, path: string): string {
  if (path === '') return root;
  return root === '/' ? `/${path}` : `${root}/${path}`;
}

/**
 * The error for an operation on `path` when `link` (the path's parent or one of its ancestors,
 * or the path itself for a directory operation) is a symbolic link on the target. When the
 * backend cannot tell which segment is the link, `link` is undefined and `checked` is the
 * directory whose resolution led elsewhere. `resolved` is where it leads, when known.
 */
export function linkInPathError(op: string, path: string, link: string | undefined, resolved?: string, checked?: string): TargetError {
  const where = link !== undefined && link !== '' ? JSON.stringify(link) : checked !== undefined && checked !== '' ? `${JSON.stringify(checked)} or a directory above it` : 'a directory on its way';
  const leads = resolved === undefined ? '' : ` (it leads to ${JSON.stringify(resolved)})`;
  return new TargetError(
    'E_LINK_IN_PATH',
    `${op} ${JSON.stringify(path)}: ${where} is a symbolic link on the target${leads}; sync-inotify does not write through links below the target root: replace the link by the directory, or remove it`,
    { path },
  );
}

/**
 * Shares one promise per key among the callers of one tick (until the next process.nextTick
 * callback runs: the window in which SFTP requests are corked into one write, see sftp/sftp-session.ts).
 * Used for directory checks: operations starting together into one directory need one
 * answer, and since that answer is asked for when all of them have started, it is as fresh
 * for each as its own request would be. A caller in a later tick asks again.
 */
export class TickShared<T> {
  private readonly current = new Map<string, Promise<T>>();

  get(key: string, make: () => Promise<T>): Promise<T> {
    const known = this.current.get(key);
    if (known !== undefined) return known;
    if (this.current.size === 0) process.nextTick(() => this.current.clear());
    const made = make();
    this.current.set(key, made);
    return made;
  }
}
