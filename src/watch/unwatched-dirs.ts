/**
 * The directories a watcher could not watch, for both per-directory watchers (the inotify
 * binding's, inotify-watcher.ts, and fs.watch's, dir-watcher.ts): why each one failed, the
 * failures for lack of resources not reported yet, and their retry.
 *
 * Contract:
 *   - `cannotWatch` files a failed watch: gone (ENOENT, ENOTDIR and the watcher's own "not a
 *     directory" codes) is nothing to remember (the parent's event says so); EACCES/EPERM is
 *     'denied' (the engine reports the unreadable directory; a chmod shows up as an event on
 *     its name); anything else is 'limit' (ENOSPC: the watch limit; EMFILE/ENFILE) or 'error',
 *     counted once per directory.
 *   - `report` makes one `onLost` per walk or event batch, however many directories failed in
 *     it, then arms the retry: directories left for lack of resources are watched again top
 *     down after WATCH_RETRY's backoff (a directory under an unwatched one comes with it),
 *     each one watched then hinted deep (its changes since the failure were not seen).
 *   - The host watches, hints and says what is watched; this class only keeps the books.
 */
import type { PathFilter } from '../core/filter.ts';
import { backoffDelay, type BackoffPolicy } from '../core/retry.ts';
import { isTempName } from '../core/temp-name.ts';
import type { WatcherCallbacks } from './watcher.ts';

/** Why a directory could not be watched, when that is worth telling and retrying. */
export type Unwatched = 'limit' | 'denied' | 'error';

/** Directories left unwatched for lack of resources are retried after 1–2 s, 2–4 s … 60 s. */
export const WATCH_RETRY: BackoffPolicy = { baseMs: 2_000, maxMs: 60_000 };

/** What the watcher that owns the books does for them. */
export interface UnwatchedHost {
  readonly root: string;
  readonly callbacks: WatcherCallbacks;
  readonly filter: PathFilter | undefined;
  isRunning(): boolean;
  isWatched(rel: string): boolean;
  /** The absolute path of `rel`. */
  abs(rel: string): string;
  /** Whether `abs` is a directory now (lstat: a link to one is not). */
  isDirectory(abs: string): boolean;
  /** Names of the subdirectories of `abs` (throws when it cannot be read). */
  listSubdirs(abs: string): string[];
  /** Watches `rel` and everything under it (its parent is watched, or it is the root). */
  watchTree(rel: string): void;
  /** A deep hint for `rel`, flushed with the next `flushHints`. */
  hintDeep(rel: string): void;
  flushHints(): void;
  /** Said after the limit message (the inotify watcher: how many watches it holds). */
  limitDetail?(): string;
}

export class UnwatchedDirs {
  private readonly why = new Map<string, Unwatched>();
  /** Resource failures not reported yet: count and the first error. */
  private failures = 0;
  private firstError: NodeJS.ErrnoException | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryRound = 0;

  constructor(
    private readonly host: UnwatchedHost,
    /** Codes that mean "gone or not a directory": nothing to remember. */
    private readonly goneCodes: readonly string[] = ['ENOENT', 'ENOTDIR'],
  ) {}

  get(rel: string): Unwatched | undefined {
    return this.why.get(rel);
  }

  has(rel: string): boolean {
    return this.why.has(rel);
  }

  /** `rel` is watched now (or gone alone: its subtree's entries stay). */
  delete(rel: string): void {
    this.why.delete(rel);
  }

  /** The watcher stops: everything forgotten, no retry left armed. */
  clear(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.why.clear();
  }

  cannotWatch(rel: string, err: NodeJS.ErrnoException): void {
    if (err.code !== undefined && this.goneCodes.includes(err.code)) return;
    if (err.code === 'EACCES' || err.code === 'EPERM') {
      this.why.set(rel, 'denied');
      return;
    }
    const isNew = !this.why.has(rel);
    this.why.set(rel, err.code === 'ENOSPC' || err.code === 'EMFILE' || err.code === 'ENFILE' ? 'limit' : 'error');
    if (isNew) {
      this.failures++;
      this.firstError ??= err;
    }
  }

  /**
   * The directories under `rel` (not watched, since `rel` could not be), as unwatched for
   * lack of resources: listed without trying a watch each, which would fail the same way.
   */
  markSubtree(rel: string): void {
    const { host } = this;
    const stack = [rel];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      let subdirs;
      try {
        subdirs = host.listSubdirs(host.abs(dir));
      } catch {
        continue;
      }
      for (const name of subdirs) {
        if (isTempName(name)) continue;
        const childRel = dir === '' ? name : `${dir}/${name}`;
        if (host.filter && !host.filter.accepts(childRel, true)) continue;
        if (host.isWatched(childRel)) continue;
        if (!this.why.has(childRel)) this.failures++;
        this.why.set(childRel, 'limit');
        stack.push(childRel);
      }
    }
  }

  /** Drops `rel` and everything under it. */
  forget(rel: string): void {
    const prefix = rel === '' ? '' : `${rel}/`;
    for (const u of this.why.keys()) if (u === rel || u.startsWith(prefix)) this.why.delete(u);
  }

  /** A directory renamed inside the tree: what waits under it moved with it. */
  move(fromRel: string, moved: (rel: string) => string): void {
    const prefix = `${fromRel}/`;
    for (const [u, why] of [...this.why]) {
      if (u !== fromRel && !u.startsWith(prefix)) continue;
      this.why.delete(u);
      this.why.set(moved(u), why);
    }
  }

  /** One `onLost` for the failures since the last report, then the retry armed (see the header). */
  report(limitMessage: (err: NodeJS.ErrnoException, count: number) => string): void {
    if (!this.host.isRunning()) return;
    if (this.failures > 0) {
      const line = limitMessage(this.firstError!, this.failures);
      this.failures = 0;
      this.firstError = undefined;
      const detail = this.host.limitDetail?.();
      this.host.callbacks.onLost(detail ? `${line} ${detail}` : line);
    }
    this.scheduleRetry();
  }

  private countForLimit(): number {
    let n = 0;
    for (const why of this.why.values()) if (why === 'limit') n++;
    return n;
  }

  private scheduleRetry(): void {
    if (!this.host.isRunning() || this.retryTimer !== undefined || this.countForLimit() === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retry();
    }, backoffDelay(this.retryRound, WATCH_RETRY));
    this.retryTimer.unref();
  }

  /** Watches again, top down, what waits for resources; each one watched now is hinted deep. */
  private retry(): void {
    const { host } = this;
    if (!host.isRunning()) return;
    const before = this.countForLimit();
    const parentOfRel = (rel: string) => rel.slice(0, Math.max(0, rel.lastIndexOf('/')));
    const tops = [...this.why].filter(([rel, why]) => why === 'limit' && (rel === '' || host.isWatched(parentOfRel(rel)))).map(([rel]) => rel);
    for (const rel of tops) {
      if (!this.why.has(rel)) continue; // watched meanwhile, under another top
      if (!host.isDirectory(host.abs(rel))) {
        this.forget(rel); // gone: its parent's events tell the engine
        continue;
      }
      host.watchTree(rel);
      if (host.isWatched(rel)) host.hintDeep(rel);
    }
    // New failures here are directories that appeared under unwatched ones: not news.
    this.failures = 0;
    this.firstError = undefined;
    const left = this.countForLimit();
    this.retryRound = left < before ? 0 : this.retryRound + 1;
    if (left === 0 && before > 0) host.callbacks.onNote?.(`inotify watches are available again: all directories under ${host.root} are watched`);
    else if (left < before) host.callbacks.onNote?.(`watching ${before - left} more directories under ${host.root}; ${left} still wait for inotify watches`);
    host.flushHints();
    this.scheduleRetry();
  }
}
