/**
 * Loads the inotify binding (native/inotify.cc, built at install into
 * build/Release/sync_inotify.node by native/build.mjs). It is optional: when it was not built
 * (no compiler, an install that skipped scripts, another OS) or does not load, the caller falls
 * back to the fs.watch watcher and logs why (choose-watcher.ts). Never throws.
 *
 * SYNC_INOTIFY_NO_NATIVE=1 in the environment makes it report "not built" (tests of the
 * fallback; an operator's escape hatch).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../cli/package-root.ts';

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

export const BINDING_PATH = join(PACKAGE_ROOT, 'build', 'Release', 'sync_inotify.node');

let cached: { binding: InotifyBinding } | { reason: string } | undefined;

/** The binding, or why it is not there. Loaded once per process. */
export function loadInotifyBinding(): { binding: InotifyBinding } | { reason: string } {
  if (process.env.SYNC_INOTIFY_NO_NATIVE === '1') return { reason: 'SYNC_INOTIFY_NO_NATIVE=1' };
  if (cached) return cached;
  if (process.platform !== 'linux') return (cached = { reason: `no inotify on ${process.platform}` });
  if (!existsSync(BINDING_PATH)) return (cached = { reason: 'the inotify binding was not built at install (see README, "Install")' });
  try {
    const binding = createRequire(import.meta.url)(BINDING_PATH) as InotifyBinding;
    if (typeof binding.Inotify !== 'function') return (cached = { reason: `${BINDING_PATH} is not the inotify binding` });
    return (cached = { binding });
  } catch (err) {
    return (cached = { reason: `the inotify binding does not load (${(err as Error).message.split('\n')[0]})` });
  }
}
