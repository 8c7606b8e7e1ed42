/**
 * Which watcher a sync gets (config `watcher`, README "Watching"):
 *  - `native` (the default) and `fswatch`: our fs.watch watcher (dir-watcher.ts);
 *  - `inotify` (opt-in): our inotify binding (inotify-watcher.ts) when it was built at
 *    install, else the fs.watch watcher, with the reason in the line logged. Not the default
 *    yet: under heavy load a change at the very end of a churn went unreported once in CI
 *    and twice in eleven runs by hand (test/e2e/store-truth.test.ts, "under load"), while
 *    fs.watch passed every run; the default comes back when that is found;
 *  - `nsfw`: the nsfw library (loaded only then: a native module a `once` never needs).
 * Returns the watcher and one line saying which one watches, for the log (worded so that it
 * never reads as the daemon's `watching …` readiness line, which tests and benches wait for).
 */
import type { PathFilter } from '../core/filter.ts';
import { DirWatcher } from './dir-watcher.ts';
import { loadInotifyBinding } from './inotify-binding.ts';
import { InotifyWatcher } from './inotify-watcher.ts';
import type { Watcher, WatcherCallbacks } from './watcher.ts';

export type WatcherKind = 'native' | 'inotify' | 'fswatch' | 'nsfw';

export async function createWatcher(kind: WatcherKind, root: string, callbacks: WatcherCallbacks, filter: PathFilter | undefined): Promise<{ watcher: Watcher; which: string }> {
  if (kind === 'nsfw') {
    const { NsfwWatcher } = await import('./nsfw-watcher.ts');
    return { watcher: new NsfwWatcher(root, callbacks), which: `watcher for ${root}: nsfw (watcher: nsfw)` };
  }
  if (kind === 'inotify') {
    const loaded = loadInotifyBinding();
    if ('binding' in loaded) return { watcher: new InotifyWatcher(root, callbacks, loaded.binding, { filter }), which: `watcher for ${root}: the inotify binding` };
    return { watcher: new DirWatcher(root, callbacks, { filter }), which: `watcher for ${root}: fs.watch, because ${loaded.reason}` };
  }
  return { watcher: new DirWatcher(root, callbacks, { filter }), which: `watcher for ${root}: fs.watch (watcher: ${kind})` };
}
