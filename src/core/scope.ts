/**
 * Dirty paths and the regions they become. Watch events are hints: each marks a path dirty;
 * before a cycle the engine turns the dirty set into scan scopes with `normalizeScopes`, then
 * `widenScope` makes sure every scope's parent already exists on the target.
 */
import type { EntryKind } from './entry.ts';
import { isAtOrUnder, isStrictlyUnder, parentOf, compareParentsFirst } from './paths.ts';

export interface Scope {
  readonly path: string;
  /** Rescan (and reconcile) the whole subtree, not just the path itself. */
  readonly deep: boolean;
  /**
   * Watch hints only: the latest event of this path was a file closed after writing
   * (IN_CLOSE_WRITE), so it need not wait for the debounce's quiet window (core/debounce.ts).
   */
  readonly closed?: boolean;
}

/** Merges scopes: a deep scope absorbs everything under it; duplicates collapse (deep wins). */
export function normalizeScopes(scopes: Iterable<Scope>): Scope[] {
  const byPath = new Map<string, boolean>();
  for (const s of scopes) byPath.set(s.path, (byPath.get(s.path) ?? false) || s.deep);
  const sorted = [...byPath.keys()].sort(compareParentsFirst);
  const deepRoots: string[] = [];
  const out: Scope[] = [];
  for (const path of sorted) {
    if (deepRoots.some((d) => isAtOrUnder(path, d))) continue;
    const deep = byPath.get(path)!;
    if (deep) deepRoots.push(path);
    out.push({ path, deep });
  }
  // A deep root found later in order may cover a shallow one found earlier only if it is an
  // ancestor, and ancestors sort first, so one pass suffices.
  return out.filter((s) => !out.some((o) => o.deep && isStrictlyUnder(s.path, o.path)));
}

/**
 * Moves a scope up until its parent is a directory the target holds ('' always exists), and
 * makes it deep when it moved: after `mkdir -p a/b/c` an event for a/b/c alone must still
 * create a and a/b.
 */
export function widenScope(scope: Scope, knownKind: (path: string) => EntryKind | undefined): Scope {
  let path = scope.path;
  let moved = false;
  while (path !== '') {
    const parent = parentOf(path);
    if (parent === '' || knownKind(parent) === 'dir') break;
    path = parent;
    moved = true;
  }
  return moved ? { path, deep: true } : scope;
}

/**
 * After lstat of a shallow scope's path: whether its subtree must be scanned too. A directory
 * the target does not hold as the same directory (new, replaced, or moved in) is scanned whole;
 * a path that vanished takes its known subtree with it.
 */
export function needsDeepScan(local: { kind: EntryKind; ino: string } | undefined, known: { kind: EntryKind; ino: string } | undefined): boolean {
  if (local === undefined) return known?.kind === 'dir';
  if (local.kind !== 'dir') return known?.kind === 'dir';
  return known === undefined || known.kind !== 'dir' || known.ino !== local.ino;
}
