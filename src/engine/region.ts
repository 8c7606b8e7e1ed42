/**
 * Loading the region a cycle looks at: the source scanned at each scope and what the store
 * knows there. A scope whose directory vanished with it is lifted to the top vanished
 * ancestor (where a rename can still be paired); a shallow scope that turns out to need a
 * deep look (core/scope.ts needsDeepScan) becomes deep; a new path brings its known parent.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { KnownEntry } from '../core/entry.ts';
import { toFsPath } from '../core/names.ts';
import { parentOf } from '../core/paths.ts';
import { needsDeepScan, type Scope } from '../core/scope.ts';
import type { Store } from '../state/store.ts';
import type { Scanner, ScanResult } from './scanner.ts';

export interface RegionContext {
  readonly sourceRoot: string;
  readonly store: Store;
  readonly scanner: Scanner;
  readonly targetId: number;
}

/** Scans one scope into `scan` and loads what the store knows there into `known`. */
export async function collectScope(ctx: RegionContext, s: Scope, scan: ScanResult, known: Map<string, KnownEntry>): Promise<void> {
  const { store, scanner, targetId } = ctx;
  const k = store.get(targetId, s.path);
  if (k && s.path !== '') {
    // Gone together with its directory (a tree renamed or removed): decide at the level of
    // that directory, where a rename can still be paired and held, not file by file.
    const top = await topVanishedAncestor(ctx.sourceRoot, s.path);
    if (top !== s.path) return collectScope(ctx, { path: top, deep: true }, scan, known);
  }
  if (s.deep) {
    await scanner.scanTree(s.path, scan);
    for (const e of store.subtree(targetId, s.path)) known.set(e.path, e);
    return;
  }
  const local = await scanner.statPath(s.path, scan);
  if (needsDeepScan(local, k)) return collectScope(ctx, { path: s.path, deep: true }, scan, known);
  if (local) scan.entries.set(s.path, local);
  if (k) known.set(k.path, k);
  // The parent must be in the region when the path is new there, so a rename pairing or a
  // creation sees its directory; the widening guaranteed it is a known directory.
  const parent = parentOf(s.path);
  const pk = parent === '' ? undefined : store.get(targetId, parent);
  if (pk && !known.has(parent)) {
    const pl = await scanner.statPath(parent, scan);
    if (pl && pl.kind === 'dir') {
      scan.entries.set(parent, pl);
      known.set(parent, pk);
    }
  }
}

/**
 * The highest ancestor of `path` that no longer exists in the source, or `path` itself when
 * its parent exists (the common case: one lstat).
 */
async function topVanishedAncestor(sourceRoot: string, path: string): Promise<string> {
  let top = path;
  for (let p = parentOf(path); p !== ''; p = parentOf(p)) {
    const exists = await lstat(toFsPath(join(sourceRoot, p))).then(
      () => true,
      () => false,
    );
    if (exists) break;
    top = p;
  }
  return top;
}
