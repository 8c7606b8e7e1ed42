/**
 * Loads the inotify binding (native/inotify.cc, built at install into
 * build/Release/sync_inotify.node by native/build.mjs). It is optional: when it was not built
 * (no compiler, an install that skipped scripts, another OS) or does not load, the caller falls
 * back to the fs.watch watcher and logs why (choose-watcher.ts). Never throws.
 *
 * SYNC_INOTIFY_NO_NATIVE=1 in the environment makes it report "not built" (tests of the
 * fallback; an operator's escape hatch).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One inotify descriptor (see native/inotify.cc for the contract). */
export interface InotifyHandle {
  /** The watch descriptor; throws an errno error (code ENOSPC, ENOENT, ENOTDIR, EACCES …). */
  addWatch(path: Buffer, mask: number): number;
  rmWatch(wd: number): void;
  close(): void;
  ref(): void;
  unref(): void;
}

export interface InotifyBinding {
  readonly Inotify: new (onEvents: (bytes: Buffer) => void) => InotifyHandle;
  readonly constants: Readonly<Record<string, number>>;
}

/**
 * The package root: this module runs from src/watch (through tsx) or from the bundle in dist/,
 * so the folder of the package.json named sync-inotify above it (as cli/package-root.ts does;
 * that layer is above this one).
 */
function packageRoot(): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'sync-inotify') return dir;
    } catch {
      // no package.json here: keep walking up
    }
    if (dirname(dir) === dir) return undefined;
  }
}

const root = packageRoot();
export const BINDING_PATH = root === undefined ? undefined : join(root, 'build', 'Release', 'sync_inotify.node');

let cached: { binding: InotifyBinding } | { reason: string } | undefined;

/** The binding, or why it is not there. Loaded once per process. */
export function loadInotifyBinding(): { binding: InotifyBinding } | { reason: string } {
  if (process.env.SYNC_INOTIFY_NO_NATIVE === '1') return { reason: 'SYNC_INOTIFY_NO_NATIVE=1' };
  if (cached) return cached;
  if (process.platform !== 'linux') return (cached = { reason: `no inotify on ${process.platform}` });
  if (BINDING_PATH === undefined || !existsSync(BINDING_PATH)) return (cached = { reason: 'the inotify binding was not built at install (see README, "Install")' });
  try {
    const binding = createRequire(import.meta.url)(BINDING_PATH) as InotifyBinding;
    if (typeof binding.Inotify !== 'function') return (cached = { reason: `${BINDING_PATH} is not the inotify binding` });
    return (cached = { binding });
  } catch (err) {
    return (cached = { reason: `the inotify binding does not load (${(err as Error).message.split('\n')[0]})` });
  }
}
