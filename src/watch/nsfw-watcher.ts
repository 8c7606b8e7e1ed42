/**
 * Linux inotify through nsfw (the only npm watcher that reported every file after
 * `mkdir -p`, moves into the tree and large untars). Events become hints: deletes and rename
 * sources are deep (their subtree went with them); creations are shallow and the engine
 * deepens them when it finds a new directory, scanning it itself (watches are added late).
 * nsfw hands names over as strings decoded from UTF-8, so a name that is not valid UTF-8
 * arrives with U+FFFD in place of its bytes and cannot be found under that name: such a hint
 * becomes a deep hint of the directory above the mangled name, whose scan reads names as bytes
 * (core/names.ts). A real U+FFFD in a name costs the same wider scan, nothing else.
 */
import nsfw from 'nsfw';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { Scope } from '../core/scope.ts';
import { isTempName } from '../core/temp-name.ts';
import type { Watcher, WatcherCallbacks } from './watcher.ts';

// nsfw's action numbers (its typings use a const enum, which isolated modules cannot read):
// CREATED = 0 and MODIFIED = 2 are shallow hints like any other path.
const DELETED = 1;
const RENAMED = 3;

export class NsfwWatcher implements Watcher {
  private handle: nsfw.NSFW | undefined;

  constructor(
    private readonly root: string,
    private readonly callbacks: WatcherCallbacks,
    /** nsfw's own batching delay; small, because the engine debounces. */
    private readonly batchMs = 5,
  ) {}

  /** Relative path of an event, or undefined when it is outside the root or our temp file. */
  private rel(dir: string, name: string): string | undefined {
    if (isTempName(name)) return undefined;
    const r = relative(this.root, join(dir, name));
    if (r === '..' || r.startsWith('..' + sep) || isAbsolute(r)) return undefined;
    return r.split(sep).join('/');
  }

  async start(): Promise<void> {
    this.handle = await nsfw(
      this.root,
      (events) => {
        const hints: Scope[] = [];
        const push = (hint: Scope) => hints.push(hint.path.includes('\ufffd') ? { path: aboveMangled(hint.path), deep: true } : hint);
        for (const ev of events) {
          const action = ev.action as number;
          if (action === RENAMED) {
            const e = ev as nsfw.RenamedFileEvent;
            const from = this.rel(e.directory, e.oldFile);
            const to = this.rel(e.newDirectory, e.newFile);
            if (from !== undefined) push({ path: from, deep: true });
            if (to !== undefined) push({ path: to, deep: false });
          } else {
            const e = ev as nsfw.GenericFileEvent<nsfw.ActionType>;
            const path = this.rel(e.directory, e.file);
            if (path === undefined) continue;
            push({ path, deep: action === DELETED });
          }
        }
        if (hints.length > 0) this.callbacks.onHints(hints);
      },
      {
        debounceMS: this.batchMs,
        errorCallback: (err: unknown) => this.callbacks.onLost(`watcher error: ${err instanceof Error ? err.message : String(err)}`),
      },
    );
    await this.handle.start();
  }

  async stop(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.stop();
  }
}

/** The parent of the first segment of `path` that holds U+FFFD ('' for the root). */
function aboveMangled(path: string): string {
  const segments = path.split('/');
  return segments.slice(0, segments.findIndex((seg) => seg.includes('\ufffd'))).join('/');
}
