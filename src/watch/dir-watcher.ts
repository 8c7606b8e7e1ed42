/**
 * Linux inotify through Node's own non-recursive `fs.watch`, one per directory.
 *
 * Why: nsfw's native thread polls its queue every 50 ms when idle, so a change reaches us
 * 0–50 ms late; libuv reads its single inotify fd from the event loop itself, so an event is
 * delivered as soon as the loop is free, and an idle process uses no CPU (no timers, no
 * polling thread). Recursion, new directories and renames are handled here:
 *
 *  - At start the tree is walked (lstat semantics: symlinks are never followed) and every
 *    directory is watched, except directories the optional `PathFilter` excludes and our temp
 *    names. Each watch is added BEFORE its directory is listed, so an entry created during the
 *    walk is either listed or reported by the watch.
 *  - An event on `name` in directory D is the hint `{path: D/name, deep: false}`. A 'rename'
 *    event (create, delete, move in or out) is checked with lstat: a directory that appeared
 *    there is walked and watched at once (with everything already under it: `mkdir -p`,
 *    `cp -r`, a directory moved in) and hinted deep; a watched directory that vanished or was
 *    replaced loses its watches (and those under it) and is hinted deep. A rename inside the
 *    tree is both: unwatched at the old path, watched at the new one.
 *  - Errors never throw out of the watcher: a watch that cannot be added for lack of
 *    resources (ENOSPC: the inotify watch limit; EMFILE/ENFILE) calls `onLost` with how to
 *    raise the limit and the number of directories left unwatched (the one that failed and
 *    every directory under it, which cannot be watched before it). They are retried on
 *    their next event, and on a timer (about 2 s, doubling up to a minute, while some are left):
 *    when watches are free again (the limit raised, another watcher gone) each is watched
 *    and hinted deep, so what changed there meanwhile is sent then, not at the next
 *    periodic rescan.
 *
 * What it cannot see: libuv reads IN_Q_OVERFLOW (the kernel queue, fs.inotify.max_queued_events,
 * overflowed) but drops it silently (its wd is -1, no watcher matches). Events lost that way
 * are found by SyncRunner's periodic full rescan (`rescanIntervalSec`), the backstop for every
 * watcher here. Names are kept exactly, valid UTF-8 or not: watches deliver
 * them as bytes (`encoding: 'buffer'`), decoded with the engine's mapping (core/names.ts).
 *
 * The walk is synchronous on purpose: events of one inotify read are handled in kernel order
 * without interleaving with a half-done walk (a rename's MOVED_FROM is handled before its
 * MOVED_TO), and the directory must be watched before the engine's debounce elapses and it
 * scans the new subtree. It costs about as much as the engine's own scan of that subtree.
 */
import { lstatSync, readdirSync, readFileSync, watch as fsWatch, type BigIntStats, type FSWatcher } from 'node:fs';
import { basename, join } from 'node:path';
import type { PathFilter } from '../core/filter.ts';
import { decodeName, toFsPath } from '../core/names.ts';
import type { Scope } from '../core/scope.ts';
import { isTempName } from '../core/temp-name.ts';
import { UnwatchedDirs } from './unwatched-dirs.ts';
import type { Watcher, WatcherCallbacks } from './watcher.ts';

/** The subset of `fs.watch` used here (a seam for tests that simulate ENOSPC). */
export type WatchFn = (path: string, listener: (event: string, name: string | Buffer | null) => void) => FSWatcher;

export interface DirWatcherOptions {
  /** Directories this filter rejects (`accepts(path, true) === false`) are not watched. */
  readonly filter?: PathFilter;
  /** Replaces `fs.watch` (tests only). */
  readonly watch?: WatchFn;
}

interface WatchedDir {
  readonly rel: string;
  readonly watcher: FSWatcher;
  /** Identity when the watch was added: a different inode at the same path is another directory. */
  readonly dev: bigint;
  readonly ino: bigint;
  /** Relative paths of watched subdirectories, to unwatch a subtree without scanning the map. */
  readonly children: Set<string>;
}

// Names as bytes: a name that is not valid UTF-8 would otherwise arrive with U+FFFD in it.
const defaultWatch: WatchFn = (path, listener) => fsWatch(toFsPath(path), { persistent: true, encoding: 'buffer' }, listener);

export class DirWatcher implements Watcher {
  private readonly dirs = new Map<string, WatchedDir>();
  /** Directories we failed to watch; retried when an event names them, and on a timer. */
  private readonly unwatched: UnwatchedDirs;
  /** Hints gathered during one turn of the event loop (deep wins). */
  private readonly pending = new Map<string, boolean>();
  private flushHandle: NodeJS.Immediate | undefined;
  private running = false;
  private readonly filter: PathFilter | undefined;
  private readonly watchFn: WatchFn;

  constructor(
    private readonly root: string,
    private readonly callbacks: WatcherCallbacks,
    options: DirWatcherOptions = {},
  ) {
    this.filter = options.filter;
    this.watchFn = options.watch ?? defaultWatch;
    this.unwatched = new UnwatchedDirs({
      root,
      callbacks,
      filter: this.filter,
      isRunning: () => this.running,
      isWatched: (rel) => this.dirs.has(rel),
      abs: (rel) => this.abs(rel),
      isDirectory: (abs) => lstatOrUndefined(abs)?.isDirectory() === true,
      listSubdirs,
      watchTree: (rel) => this.watchTree(rel, rel === '' ? undefined : this.dirs.get(parentRel(rel))),
      hintDeep: (rel) => this.hint(rel, true),
      flushHints: () => this.scheduleFlush(),
    });
  }

  /** Relative paths of the directories watched now, sorted (introspection for tests and benches). */
  watchedDirs(): string[] {
    return [...this.dirs.keys()].sort();
  }

  watchCount(): number {
    return this.dirs.size;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.watchTree('', undefined);
    this.reportLimitFailures();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.flushHandle) clearImmediate(this.flushHandle);
    this.flushHandle = undefined;
    this.pending.clear();
    for (const d of this.dirs.values()) d.watcher.close();
    this.dirs.clear();
    this.unwatched.clear();
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  /** Watches `rel` and every directory under it that is not yet watched. */
  private watchTree(rel: string, parent: WatchedDir | undefined): void {
    const stack: Array<{ rel: string; parent: WatchedDir | undefined }> = [{ rel, parent }];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (this.dirs.has(next.rel)) continue;
      const dir = this.watchOne(next.rel, next.parent);
      if (!dir) {
        // Out of watches: what is under it is unwatched too (counted, retried with it).
        if (this.unwatched.get(next.rel) === 'limit') this.unwatched.markSubtree(next.rel);
        continue;
      }
      let subdirs;
      try {
        subdirs = listSubdirs(this.abs(dir.rel));
      } catch {
        // Watched but not listable (EACCES) or gone already: its events still come, and the
        // engine's scan reports an unreadable directory as a per-path problem.
        continue;
      }
      for (const name of subdirs) {
        if (isTempName(name)) continue;
        const childRel = dir.rel === '' ? name : `${dir.rel}/${name}`;
        if (this.filter && !this.filter.accepts(childRel, true)) continue;
        stack.push({ rel: childRel, parent: dir });
      }
    }
  }

  /** Adds one watch; undefined when the path is not a directory now or cannot be watched. */
  private watchOne(rel: string, parent: WatchedDir | undefined): WatchedDir | undefined {
    const abs = this.abs(rel);
    let watcher: FSWatcher;
    try {
      watcher = this.watchFn(abs, (event, name) => this.onEvent(rel, watcher, event, name));
    } catch (err) {
      this.unwatched.cannotWatch(rel, err as NodeJS.ErrnoException);
      return undefined;
    }
    // Without a listener an 'error' event would throw out of the event loop.
    watcher.on('error', (err: NodeJS.ErrnoException) => this.onWatchError(rel, watcher, err));
    // lstat after the watch: inotify_add_watch follows symlinks, so a directory replaced by a
    // link between the listing and the watch would be watched outside the tree.
    const st = lstatOrUndefined(abs);
    if (!st?.isDirectory()) {
      watcher.close();
      return undefined;
    }
    const dir: WatchedDir = { rel, watcher, dev: st.dev, ino: st.ino, children: new Set() };
    this.dirs.set(rel, dir);
    this.unwatched.delete(rel);
    parent?.children.add(rel);
    return dir;
  }

  /** One `onLost` per walk or event batch, however many directories failed in it. */
  private reportLimitFailures(): void {
    this.unwatched.report((err, n) => limitMessage(err, n, this.root));
  }

  private onEvent(rel: string, watcher: FSWatcher, event: string, name: string | Buffer | null): void {
    const dir = this.dirs.get(rel);
    if (!this.running || dir?.watcher !== watcher) return; // a stale handle of a closed subtree
    if (name === null) {
      // Linux always names the entry (libuv substitutes the directory's basename for events
      // on the directory itself); if not, all we know is "something here changed".
      this.verifyDir(dir);
      this.hint(rel, true);
    } else {
      const n = typeof name === 'string' ? name : decodeName(name);
      // Events on the directory itself (deleted, moved, or its own IN_IGNORED) carry the
      // basename libuv knew it by, which is also the name of a possible child: check both.
      if (event === 'rename' && n === basename(this.abs(rel)) && !this.verifyDir(dir)) return this.scheduleFlush();
      if (!isTempName(n)) {
        const childRel = rel === '' ? n : `${rel}/${n}`;
        this.hint(childRel, false);
        if (event === 'rename' || this.unwatched.has(childRel)) this.checkChild(dir, childRel);
      }
    }
    this.scheduleFlush();
  }

  /**
   * Reconciles our watches for one directory entry with what is there now: a watched
   * directory that vanished or was replaced is unwatched; a directory that appeared is watched
   * with everything under it. Both are deep hints.
   */
  private checkChild(parent: WatchedDir, childRel: string): void {
    const st = lstatOrUndefined(this.abs(childRel));
    const isDir = st?.isDirectory() === true;
    const existing = this.dirs.get(childRel);
    if (existing && (!isDir || st!.ino !== existing.ino || st!.dev !== existing.dev)) {
      this.unwatchTree(existing);
      this.hint(childRel, true);
    }
    if (!isDir) {
      this.unwatched.delete(childRel);
      return;
    }
    if (this.dirs.has(childRel)) return; // same directory, already watched
    if (this.filter && !this.filter.accepts(childRel, true)) return;
    this.watchTree(childRel, parent);
    // Deep although the engine deepens new directories itself: a directory removed and
    // recreated at once may get the same inode back, and then only a deep hint rescans it.
    this.hint(childRel, true);
    this.reportLimitFailures();
  }

  /** True when the watched directory is still there; otherwise unwatches and hints it. */
  private verifyDir(dir: WatchedDir): boolean {
    const st = lstatOrUndefined(this.abs(dir.rel));
    if (st?.isDirectory() && st.ino === dir.ino && st.dev === dir.dev) return true;
    this.unwatchTree(dir);
    this.hint(dir.rel, true);
    if (dir.rel === '') {
      // The engine's safety gates halt the targets' deletes; the sync runner, which looks at
      // the root on a timer, watches it afresh (a new walk) when a directory is there again.
      this.callbacks.onLost(`source root ${this.root} vanished or was replaced`);
    }
    return false;
  }

  private onWatchError(rel: string, watcher: FSWatcher, err: NodeJS.ErrnoException): void {
    const dir = this.dirs.get(rel);
    if (!this.running || dir?.watcher !== watcher) return;
    // The handle is dead: its events may be lost. Unwatch, try once to watch it afresh, rescan.
    this.unwatchTree(dir);
    this.hint(rel, true);
    const parent = rel === '' ? undefined : this.dirs.get(parentRel(rel));
    if (rel === '' || parent) this.watchTree(rel, parent);
    this.callbacks.onLost(`watching ${this.abs(rel)} failed (${err.code ?? err.message})`);
    this.reportLimitFailures();
    this.scheduleFlush();
  }

  private unwatchTree(dir: WatchedDir): void {
    const stack = [dir];
    while (stack.length > 0) {
      const d = stack.pop()!;
      d.watcher.close();
      this.dirs.delete(d.rel);
      for (const c of d.children) {
        const child = this.dirs.get(c);
        if (child) stack.push(child);
      }
    }
    if (dir.rel !== '') this.dirs.get(parentRel(dir.rel))?.children.delete(dir.rel);
    // Failed directories under it are moot now (rare, so a scan of the small map is fine).
    this.unwatched.forget(dir.rel);
  }

  private hint(path: string, deep: boolean): void {
    this.pending.set(path, (this.pending.get(path) ?? false) || deep);
  }

  /**
   * libuv calls us once per inotify event; hints are handed over once per loop turn
   * (setImmediate runs right after the poll phase that read them), which batches a read's
   * events without adding latency.
   */
  private scheduleFlush(): void {
    if (this.flushHandle || this.pending.size === 0) return;
    this.flushHandle = setImmediate(() => {
      this.flushHandle = undefined;
      if (!this.running || this.pending.size === 0) return;
      const hints: Scope[] = [];
      for (const [path, deep] of this.pending) hints.push({ path, deep });
      this.pending.clear();
      this.callbacks.onHints(hints);
    });
  }
}

export function parentRel(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/**
 * Names of the subdirectories of `abs` (lstat semantics: a symlink to a directory is not one),
 * read as strings, and again as bytes only when a name has U+FFFD in it (core/names.ts).
 */
export function listSubdirs(abs: string): string[] {
  const fsPath = toFsPath(abs);
  const entries = readdirSync(fsPath, { withFileTypes: true });
  if (!entries.some((e) => e.name.includes('\ufffd'))) return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  return readdirSync(fsPath, { withFileTypes: true, encoding: 'buffer' })
    .filter((e) => e.isDirectory())
    .map((e) => decodeName(e.name));
}

export function lstatOrUndefined(abs: string): BigIntStats | undefined {
  try {
    return lstatSync(toFsPath(abs), { bigint: true });
  } catch {
    return undefined;
  }
}

export function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/fs/inotify/${name}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** What went wrong and how to fix it, for the log line `onLost` leads to. */
export function limitMessage(err: NodeJS.ErrnoException, count: number, root: string): string {
  const what = `${count} ${count === 1 ? 'directory' : 'directories'} under ${root} could not be watched`;
  const tail = 'retrying every few seconds; each is watched and rescanned as soon as watches are free';
  if (err.code === 'ENOSPC') {
    const now = readSysctl('max_user_watches');
    return (
      `inotify watch limit reached (fs.inotify.max_user_watches = ${now ?? '?'}): ${what}; ${tail}. ` +
      'Raise it: sudo sysctl fs.inotify.max_user_watches=524288, and persist it in /etc/sysctl.d/90-inotify.conf'
    );
  }
  if (err.code === 'EMFILE' || err.code === 'ENFILE') {
    const now = readSysctl('max_user_instances');
    return (
      `too many open files or inotify instances (${err.code}; fs.inotify.max_user_instances = ${now ?? '?'}): ${what}; ${tail}. ` +
      'Raise fs.inotify.max_user_instances (sysctl) or the open-file limit (ulimit -n, LimitNOFILE= in the systemd unit)'
    );
  }
  return `${what} (${err.code ?? err.message}); ${tail}`;
}
