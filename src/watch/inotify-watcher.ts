/**
 * Linux inotify read by our own binding (inotify-binding.ts, native/inotify.cc): one inotify
 * descriptor for the whole tree, read from Node's event loop. The default watcher when the
 * binding is built (choose-watcher.ts); DirWatcher (fs.watch) is the fallback. README
 * "Watching" and docs/architecture.md describe it for users.
 *
 * What it adds over fs.watch (which reads inotify too, through libuv):
 *  - IN_CLOSE_WRITE: a file closed after writing is hinted `closed`, and the engine sends it at
 *    once instead of waiting for the debounce's quiet window (core/debounce.ts); a file still
 *    open for writing keeps the window.
 *  - IN_Q_OVERFLOW (the kernel queue, fs.inotify.max_queued_events, overflowed): `onLost` at
 *    once (the engine rescans everything), and the tree is walked again for directories
 *    created meanwhile, which would otherwise stay unwatched. fs.watch drops this event.
 *  - rename cookies: an IN_MOVED_FROM/IN_MOVED_TO pair is matched within the read that holds
 *    it (inotify-events.ts), so a directory renamed inside the tree keeps its watches under
 *    the new path (no walk, no new watches), and one moved out loses them at once.
 *  - a watch costs a map entry and the kernel's own bytes, not a JS handle per directory.
 *
 * The rest is DirWatcher's contract, kept on purpose: hints are paths relative to the root
 * (shallow for an entry, deep for one that went away and for a directory that appeared,
 * which is walked and watched at once, watch BEFORE listing); excluded directories and our
 * temp names are not watched; symlinks are never followed (IN_DONT_FOLLOW | IN_ONLYDIR); names
 * are bytes (core/names.ts); a watch refused for lack of resources (ENOSPC: the watch limit;
 * EMFILE/ENFILE) is one `onLost` naming how many directories are unwatched and how to raise
 * the limit, and they are retried on their next event and on a backoff timer; errors never
 * throw out of the watcher.
 */
import { join } from 'node:path';
import type { PathFilter } from '../core/filter.ts';
import { decodeName, encodeName } from '../core/names.ts';
import type { Scope } from '../core/scope.ts';
import { isTempName } from '../core/temp-name.ts';
import { limitMessage, listSubdirs, lstatOrUndefined, parentRel, readSysctl } from './dir-watcher.ts';
import type { InotifyBinding, InotifyHandle } from './inotify-binding.ts';
import { decodeEvents, mergeHint, planBatch, WATCH_MASK, type EntryRef, type PendingHint, type WatchAction } from './inotify-events.ts';
import { UnwatchedDirs } from './unwatched-dirs.ts';
import type { Watcher, WatcherCallbacks } from './watcher.ts';

export interface InotifyWatcherOptions {
  /** Directories this filter rejects (`accepts(path, true) === false`) are not watched. */
  readonly filter?: PathFilter;
  /** Wraps the binding's addWatch (tests only: simulates ENOSPC for some paths). */
  readonly addWatch?: (handle: InotifyHandle, path: Buffer, mask: number) => number;
}

interface WatchedDir {
  rel: string;
  readonly wd: number;
  /** Identity when the watch was added: a different inode at the same path is another directory. */
  readonly dev: bigint;
  readonly ino: bigint;
  /** Relative paths of watched subdirectories, to unwatch or move a subtree without scanning the map. */
  children: Set<string>;
}

export class InotifyWatcher implements Watcher {
  private handle: InotifyHandle | undefined;
  private readonly dirs = new Map<string, WatchedDir>();
  private readonly byWd = new Map<number, WatchedDir>();
  /** Directories we failed to watch; retried when an event names them, and on a timer. */
  private readonly unwatched: UnwatchedDirs;
  private readonly pending = new Map<string, PendingHint>();
  private flushHandle: NodeJS.Immediate | undefined;
  private running = false;
  private readonly filter: PathFilter | undefined;
  private readonly addWatchFn: (handle: InotifyHandle, path: Buffer, mask: number) => number;

  constructor(
    private readonly root: string,
    private readonly callbacks: WatcherCallbacks,
    private readonly binding: InotifyBinding,
    options: InotifyWatcherOptions = {},
  ) {
    this.filter = options.filter;
    this.addWatchFn = options.addWatch ?? ((h, path, mask) => h.addWatch(path, mask));
    this.unwatched = new UnwatchedDirs(
      {
        root,
        callbacks,
        filter: this.filter,
        isRunning: () => this.running,
        isWatched: (rel) => this.dirs.has(rel),
        abs: (rel) => this.abs(rel),
        isDirectory: (abs) => lstatOrUndefined(abs)?.isDirectory() === true,
        listSubdirs,
        watchTree: (rel) => this.watchTree(rel, rel === '' ? undefined : this.dirs.get(parentRel(rel)), false),
        hintDeep: (rel) => this.hint(rel, { deep: true, closed: false }),
        flushHints: () => this.scheduleFlush(),
        limitDetail: () => `(this watcher holds ${this.dirs.size} watches now)`,
      },
      ['ENOENT', 'ENOTDIR', 'ELOOP'], // ELOOP: IN_DONT_FOLLOW on a symlink
    );
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
    this.handle = new this.binding.Inotify((bytes) => this.onBytes(bytes));
    this.running = true;
    this.watchTree('', undefined, false);
    this.reportLimitFailures();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.flushHandle) clearImmediate(this.flushHandle);
    this.flushHandle = undefined;
    this.pending.clear();
    this.handle?.close(); // closing the descriptor drops every watch at once
    this.handle = undefined;
    this.dirs.clear();
    this.byWd.clear();
    this.unwatched.clear();
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  private childRel(dir: WatchedDir, name: Buffer): string {
    const n = decodeName(name);
    return dir.rel === '' ? n : `${dir.rel}/${n}`;
  }

  // ---- events ----

  private onBytes(bytes: Buffer): void {
    if (!this.running) return;
    try {
      const { events, truncated } = decodeEvents(bytes);
      for (const action of planBatch(events)) this.apply(action);
      if (truncated) this.callbacks.onLost('inotify returned a truncated event');
      this.reportLimitFailures();
    } catch (err) {
      // Never out of the event loop: whatever went wrong, a rescan covers it.
      this.callbacks.onLost(`watcher error: ${err instanceof Error ? err.message : String(err)}`);
    }
    // Handed over at once, not on the next loop turn: one read is one batch already.
    this.flush();
  }

  private apply(a: WatchAction): void {
    switch (a.kind) {
      case 'overflow':
        return this.onOverflow();
      case 'hint': {
        const dir = this.byWd.get(a.at.wd);
        if (!dir || isTempName(decodeName(a.at.name))) return;
        const rel = this.childRel(dir, a.at.name);
        this.hint(rel, { deep: a.deep, closed: a.closed });
        // A directory that could not be watched is retried on its next event.
        if (this.unwatched.has(rel)) this.checkChild(dir, rel);
        return;
      }
      case 'dir-appeared':
      case 'dir-gone': {
        const dir = this.byWd.get(a.at.wd);
        if (!dir || isTempName(decodeName(a.at.name))) return;
        return this.checkChild(dir, this.childRel(dir, a.at.name));
      }
      case 'dir-moved':
        return this.onDirMoved(a.from, a.to);
      case 'self-gone': {
        const dir = this.byWd.get(a.wd);
        if (dir) this.verifyDir(dir);
        return;
      }
      case 'ignored': {
        // The kernel dropped the watch (its directory was deleted, or its file system
        // unmounted). Ours were removed from byWd before we asked, so this is news.
        const dir = this.byWd.get(a.wd);
        if (!dir) return;
        const rel = dir.rel;
        this.unwatchTree(dir);
        this.hint(rel, { deep: true, closed: false });
        if (rel !== '') {
          const parent = this.dirs.get(parentRel(rel));
          if (parent) this.checkChild(parent, rel);
          return;
        }
        // The root's own watch ended: gone (the sync runner watches it afresh when it is back),
        // or still there (watched again here). Either way a rescan.
        this.callbacks.onLost(`the inotify watch on ${this.root} ended`);
        if (lstatOrUndefined(this.root)?.isDirectory()) this.watchTree('', undefined, true);
        return;
      }
    }
  }

  /** A directory renamed inside the tree: its watches move with it when it is the one we watch. */
  private onDirMoved(from: EntryRef, to: EntryRef): void {
    const fromParent = this.byWd.get(from.wd);
    const toParent = this.byWd.get(to.wd);
    const fromRel = fromParent && this.childRel(fromParent, from.name);
    const toRel = toParent && this.childRel(toParent, to.name);
    const moving = fromRel === undefined ? undefined : this.dirs.get(fromRel);
    if (toRel === undefined || isTempName(decodeName(to.name)) || !toParent) {
      // Moved somewhere we do not watch: for us it is gone.
      if (fromParent && fromRel !== undefined) this.checkChild(fromParent, fromRel);
      return;
    }
    const st = lstatOrUndefined(this.abs(toRel));
    const same = moving !== undefined && st?.isDirectory() === true && st.ino === moving.ino && st.dev === moving.dev;
    if (!same || (this.filter && !this.filter.accepts(toRel, true))) {
      if (fromParent && fromRel !== undefined) this.checkChild(fromParent, fromRel);
      return this.checkChild(toParent, toRel);
    }
    // Renamed over an (empty) directory we watched: that one is gone.
    const replaced = this.dirs.get(toRel);
    if (replaced && replaced !== moving) this.unwatchTree(replaced);
    this.rekey(moving, toRel, toParent);
  }

  private onOverflow(): void {
    // Directories created while events were lost have no watch yet: walk everything again
    // (watched directories are listed, not watched twice), then the engine rescans.
    const root = this.dirs.get('');
    if (root && this.verifyDir(root)) this.watchTree('', undefined, true);
    const max = readSysctl('max_queued_events');
    this.callbacks.onLost(`inotify event queue overflowed (fs.inotify.max_queued_events = ${max ?? '?'}); raise it with sysctl if this repeats`);
  }

  // ---- watches ----

  /**
   * Watches `rel` and every directory under it not yet watched. With `descend` (after an
   * overflow, when any event may be missing, IN_IGNORED included), directories already watched
   * are checked and listed too: one replaced meanwhile is watched afresh, subdirectories gone
   * are unwatched, new ones watched.
   */
  private watchTree(rel: string, parent: WatchedDir | undefined, descend: boolean): void {
    const stack: Array<{ rel: string; parent: WatchedDir | undefined }> = [{ rel, parent }];
    while (stack.length > 0) {
      const next = stack.pop()!;
      let dir = this.dirs.get(next.rel);
      if (dir && !descend) continue;
      if (dir && descend) {
        const st = lstatOrUndefined(this.abs(dir.rel));
        if (!st?.isDirectory() || st.ino !== dir.ino || st.dev !== dir.dev) {
          this.unwatchTree(dir);
          this.hint(next.rel, { deep: true, closed: false });
          dir = undefined;
        }
      }
      dir ??= this.watchOne(next.rel, next.parent);
      if (!dir) {
        if (this.unwatched.get(next.rel) === 'limit') this.unwatched.markSubtree(next.rel);
        continue;
      }
      let subdirs;
      try {
        subdirs = listSubdirs(this.abs(dir.rel));
      } catch {
        continue; // not listable (EACCES) or gone: its events still come, the engine reports it
      }
      const listed = new Set<string>();
      for (const name of subdirs) {
        if (isTempName(name)) continue;
        const childRel = dir.rel === '' ? name : `${dir.rel}/${name}`;
        if (this.filter && !this.filter.accepts(childRel, true)) continue;
        listed.add(childRel);
        stack.push({ rel: childRel, parent: dir });
      }
      if (descend) {
        for (const c of [...dir.children]) {
          const child = this.dirs.get(c);
          if (!listed.has(c) && child) {
            this.unwatchTree(child);
            this.hint(c, { deep: true, closed: false });
          }
        }
      }
    }
  }

  /** Adds one watch; undefined when the path is not a directory now or cannot be watched. */
  private watchOne(rel: string, parent: WatchedDir | undefined): WatchedDir | undefined {
    const abs = this.abs(rel);
    let wd: number;
    try {
      wd = this.addWatchFn(this.handle!, encodeName(abs), WATCH_MASK);
    } catch (err) {
      this.unwatched.cannotWatch(rel, err as NodeJS.ErrnoException);
      return undefined;
    }
    // IN_ONLYDIR | IN_DONT_FOLLOW made the kernel refuse a symlink or a file; lstat for the
    // identity (a later event at this path may be another directory).
    const st = lstatOrUndefined(abs);
    const known = this.byWd.get(wd);
    if (!st?.isDirectory()) {
      if (!known) this.rmWatch(wd);
      return undefined;
    }
    if (known) {
      // The kernel gave back a watch we hold: the same directory under another path. Either
      // it was renamed while we could not see it (after an overflow): its watches move here;
      // or the old path still leads to it (a bind mount inside the tree): left watched there.
      const oldSt = lstatOrUndefined(this.abs(known.rel));
      if (oldSt?.isDirectory() && oldSt.ino === known.ino && oldSt.dev === known.dev) return undefined;
      this.rekey(known, rel, parent);
      return known;
    }
    const dir: WatchedDir = { rel, wd, dev: st.dev, ino: st.ino, children: new Set() };
    this.dirs.set(rel, dir);
    this.byWd.set(wd, dir);
    this.unwatched.delete(rel);
    parent?.children.add(rel);
    return dir;
  }

  private rmWatch(wd: number): void {
    try {
      this.handle?.rmWatch(wd);
    } catch {
      // EINVAL is ignored by the binding; anything else leaves a watch whose events we drop
    }
  }

  /** One `onLost` per walk or read, however many directories failed in it. */
  private reportLimitFailures(): void {
    this.unwatched.report((err, n) => limitMessage(err, n, this.root));
  }

  /**
   * Reconciles our watches for one directory entry with what is there now: a watched
   * directory that vanished or was replaced is unwatched; a directory that appeared is
   * watched with everything under it. Both are deep hints.
   */
  private checkChild(parent: WatchedDir, childRel: string): void {
    const st = lstatOrUndefined(this.abs(childRel));
    const isDir = st?.isDirectory() === true;
    const existing = this.dirs.get(childRel);
    if (existing && (!isDir || st!.ino !== existing.ino || st!.dev !== existing.dev)) {
      this.unwatchTree(existing);
      this.hint(childRel, { deep: true, closed: false });
    }
    if (!isDir) {
      this.unwatched.forget(childRel);
      return;
    }
    if (this.dirs.has(childRel)) return;
    if (this.filter && !this.filter.accepts(childRel, true)) return;
    this.watchTree(childRel, parent, false);
    // Deep although the engine deepens new directories itself: a directory removed and
    // recreated at once may get the same inode back, and then only a deep hint rescans it.
    this.hint(childRel, { deep: true, closed: false });
  }

  /** True when the watched directory is still there; otherwise unwatches and hints it. */
  private verifyDir(dir: WatchedDir): boolean {
    const st = lstatOrUndefined(this.abs(dir.rel));
    if (st?.isDirectory() && st.ino === dir.ino && st.dev === dir.dev) return true;
    const rel = dir.rel;
    this.unwatchTree(dir);
    this.hint(rel, { deep: true, closed: false });
    if (rel === '') this.callbacks.onLost(`source root ${this.root} vanished or was replaced`);
    return false;
  }

  /** Drops the watches of `dir` and everything under it (the kernel's, and our maps). */
  private unwatchTree(dir: WatchedDir): void {
    const stack = [dir];
    while (stack.length > 0) {
      const d = stack.pop()!;
      // Out of byWd first: the IN_IGNORED that the removal queues is then not news.
      if (this.byWd.get(d.wd) === d) this.byWd.delete(d.wd);
      this.rmWatch(d.wd);
      this.dirs.delete(d.rel);
      for (const c of d.children) {
        const child = this.dirs.get(c);
        if (child) stack.push(child);
      }
    }
    if (dir.rel !== '') this.dirs.get(parentRel(dir.rel))?.children.delete(dir.rel);
    this.unwatched.forget(dir.rel);
  }

  /** Moves a watched subtree to a new path (a rename): same watches, new relative paths. */
  private rekey(dir: WatchedDir, toRel: string, toParent: WatchedDir | undefined): void {
    const fromRel = dir.rel;
    if (fromRel === toRel) return;
    const moved = (rel: string) => toRel + rel.slice(fromRel.length);
    const subtree: WatchedDir[] = [];
    const stack = [dir];
    while (stack.length > 0) {
      const d = stack.pop()!;
      subtree.push(d);
      for (const c of d.children) {
        const child = this.dirs.get(c);
        if (child) stack.push(child);
      }
    }
    if (fromRel !== '') this.dirs.get(parentRel(fromRel))?.children.delete(fromRel);
    for (const d of subtree) if (this.dirs.get(d.rel) === d) this.dirs.delete(d.rel);
    for (const d of subtree) {
      d.rel = moved(d.rel);
      d.children = new Set([...d.children].map(moved));
      this.dirs.set(d.rel, d);
    }
    toParent?.children.add(toRel);
    // Directories under it still waiting for watches moved too.
    this.unwatched.move(fromRel, moved);
  }

  // ---- hints ----

  private hint(path: string, h: PendingHint): void {
    this.pending.set(path, mergeHint(this.pending.get(path), h));
  }

  private flush(): void {
    if (!this.running || this.pending.size === 0) return;
    const hints: Scope[] = [];
    for (const [path, { deep, closed }] of this.pending) hints.push(closed ? { path, deep, closed } : { path, deep });
    this.pending.clear();
    this.callbacks.onHints(hints);
  }

  /** For hints made outside a read (the retry timer): handed over on the next loop turn. */
  private scheduleFlush(): void {
    if (this.flushHandle || this.pending.size === 0) return;
    this.flushHandle = setImmediate(() => {
      this.flushHandle = undefined;
      this.flush();
    });
  }
}
