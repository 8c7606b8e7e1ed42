/**
 * The planner: the heart of the engine, and pure. Given what the source holds now (`local`)
 * and what the store says the target holds (`known`), both restricted by the engine to the
 * same region of the tree, it returns the operations that make the target match, each with
 * the operations it must wait for.
 *
 * Contract with the engine:
 *   - `local` and `known` cover the same region: every path the engine scanned, and every
 *     known path at or under the scanned roots. A known path absent from `local` has vanished.
 *   - The parent of every region root exists on the target (the engine widens dirty paths to
 *     the nearest known directory), so creations only depend on creations inside the plan.
 *   - Known paths at or under an `unreadable` path are never removed or renamed: a scan error
 *     must not turn into a delete.
 *
 * Three passes:
 *   1. Renames: a known entry whose inode now lives at another path (same kind, and for files
 *      the same size and mtime) becomes one rename; directories move with their subtree.
 *   2. Creations and updates, parents first: mkdir, put, symlink; a kind change removes the
 *      old entry first.
 *   3. Removals of what vanished, children first (or one recursive rmdir when allowed).
 * Then dependencies are derived from paths alone (see `linkDependencies`).
 */
import { isRacy, isUncertain, sameFingerprint, type KnownEntry, type LocalEntry } from './entry.ts';
import type { Op, Problem } from './ops.ts';
import { ancestorsOf, compareParentsFirst, isAtOrUnder, isStrictlyUnder, parentOf, rebase, sortParentsFirst } from './paths.ts';

export interface PlanCapabilities {
  readonly rename: boolean;
  readonly symlinks: boolean;
  /**
   * The target carries names that are not valid UTF-8 (default true). When false, such a
   * directory is not staged: its refusal (E_NAME) then names it, not its temp name.
   */
  readonly byteNames?: boolean;
}

export interface PlanInput {
  readonly local: ReadonlyMap<string, LocalEntry>;
  readonly known: ReadonlyMap<string, KnownEntry>;
  readonly caps: PlanCapabilities;
  /** Remove vanished directory trees with one recursive call (also removes remote extras). */
  readonly recursiveRemove?: boolean;
  readonly unreadable?: readonly string[];
}

export interface Plan {
  readonly ops: Op[];
  readonly problems: Problem[];
}

/** An op before it has an id and dependencies (distributes over the union). */
type NewOp = Op extends infer T ? (T extends Op ? Omit<T, 'id' | 'deps'> : never) : never;

/** Mutable build state shared by the passes. `virt` is the target as it will be. */
class PlanBuilder {
  readonly ops: Op[] = [];
  readonly problems: Problem[] = [];
  readonly virt: Map<string, KnownEntry>;
  private nextId = 1;

  constructor(known: ReadonlyMap<string, KnownEntry>) {
    this.virt = new Map(known);
  }

  add(op: NewOp): Op {
    const full = { ...op, id: this.nextId++, deps: [] } as Op;
    this.ops.push(full);
    return full;
  }

  /** All virtual entries at or under `dir`, as [path, entry] pairs. */
  subtree(dir: string): [string, KnownEntry][] {
    const out: [string, KnownEntry][] = [];
    for (const pair of this.virt) if (isAtOrUnder(pair[0], dir)) out.push(pair);
    return out;
  }
}

export function plan(input: PlanInput): Plan {
  const b = new PlanBuilder(input.known);
  const unreadable = input.unreadable ?? [];
  const protectedPath = (p: string) => unreadable.some((u) => isAtOrUnder(p, u));

  if (input.caps.rename) pairRenames(b, input, protectedPath);
  createAndUpdate(b, input);
  removeVanished(b, input, protectedPath);
  linkDependencies(b.ops);
  return { ops: b.ops, problems: b.problems };
}

/** Pass 1. Repeats until no new pair appears, so chains (b→c then a→b) resolve in order. */
function pairRenames(b: PlanBuilder, input: PlanInput, protectedPath: (p: string) => boolean): void {
  // Inodes shared by several local paths (hard links) cannot be paired unambiguously.
  const localByIno = new Map<string, LocalEntry | null>();
  for (const e of input.local.values()) {
    if (e.kind === 'symlink') continue;
    localByIno.set(e.ino, localByIno.has(e.ino) ? null : e);
  }
  // Where each known entry currently sits in the virtual target, keyed by inode.
  const currentPathByIno = new Map<string, string>();
  const seenIno = new Set<string>();
  for (const k of input.known.values()) {
    if (k.kind === 'symlink' || k.ino === '' || k.ino === '0') continue;
    if (seenIno.has(k.ino)) currentPathByIno.delete(k.ino);
    else currentPathByIno.set(k.ino, k.path);
    seenIno.add(k.ino);
  }

  for (let round = 0; round < 64; round++) {
    let paired = false;
    // Only inodes that now live at another local path can pair. The others (a no-change
    // restart: all of them) would be skipped below anyway (no local entry, or `e.path ===
    // current`), and neither changes during a round (a candidate moved with its parent is
    // skipped as stale), so they are left out of the sort rather than sorted and skipped.
    const moved: [string, string][] = [];
    for (const pair of currentPathByIno) {
      const e = localByIno.get(pair[0]);
      if (e && e.path !== pair[1]) moved.push(pair);
    }
    const candidates = sortParentsFirst(moved, (pair) => pair[1]);
    for (const [ino, current] of candidates) {
      if (currentPathByIno.get(ino) !== current) continue; // moved with a parent this round
      const k = b.virt.get(current);
      const e = localByIno.get(ino);
      if (!k || !e || k.ino !== ino || e.path === current || e.kind !== k.kind) continue;
      if (protectedPath(current)) continue;
      if (e.kind === 'file' && (e.size !== k.size || e.mtimeMs !== k.mtimeMs)) continue;
      if (isAtOrUnder(e.path, current)) continue; // into its own subtree: impossible
      // Onto one of its own ancestors (where it sits now after a parent's rename this plan):
      // impossible as one rename, and its ops would wait for each other. Sent as a copy.
      if (isStrictlyUnder(current, e.path)) continue;
      // The destination's directories must exist on the target first. When one of them (not
      // only the parent) is itself a known directory still waiting to be moved into place
      // (nesting swapped: mv a/b c; mv a c/a, or mv a c/new/a), wait for that rename in a
      // later round; pairing now would make the renames and mkdirs wait for each other.
      if (waitsForAncestorMove(b, input, localByIno, currentPathByIno, e.path)) continue;
      // The local entry still at the old path with the same inode means nothing moved.
      if (input.local.get(current)?.ino === ino) continue;
      const occupant = b.virt.get(e.path);
      if (occupant) {
        // Only a file may be renamed over a file, and only when the occupant's own content
        // is not itself moving elsewhere (that rename must go first; a later round does it).
        if (e.kind !== 'file' || occupant.kind !== 'file') continue;
        const occupantMovesTo = localByIno.get(occupant.ino);
        if (occupantMovesTo && occupantMovesTo.path !== e.path && currentPathByIno.get(occupant.ino) === e.path) continue;
      }
      b.add({ kind: 'rename', path: e.path, from: current, entry: e });
      for (const [p, entry] of b.subtree(current)) {
        b.virt.delete(p);
        const moved = rebase(p, current, e.path);
        b.virt.set(moved, { ...entry, path: moved });
        if (currentPathByIno.get(entry.ino) === p) currentPathByIno.set(entry.ino, moved);
      }
      paired = true;
    }
    if (!paired) break;
  }
}

/**
 * Whether a directory on the way to `dest` is not in its final place yet, so that the rename
 * into `dest` must wait for a later pairing round:
 *   - the source's directory there is a known one still to be moved to it (nesting swapped:
 *     mv a/b c; mv a c/a, or through a new directory: mv a c/new/a);
 *   - the virtual target holds another directory at that path, one that moves away (mv a/c r;
 *     mkdir a/c; mv a/b a/c/r): renamed now, the entry would leave with it.
 * The walk stops at the first directory that is in place (same inode on both sides) or that
 * stays where it is.
 */
function waitsForAncestorMove(b: PlanBuilder, input: PlanInput, localByIno: ReadonlyMap<string, LocalEntry | null>, currentPathByIno: ReadonlyMap<string, string>, dest: string): boolean {
  for (let dir = parentOf(dest); dir !== ''; dir = parentOf(dir)) {
    const lp = input.local.get(dir);
    const v = b.virt.get(dir);
    if (v?.kind === 'dir' && lp !== undefined && v.ino === lp.ino) return false;
    if (lp && currentPathByIno.has(lp.ino) && currentPathByIno.get(lp.ino) !== dir) return true;
    if (v?.kind === 'dir') {
      const goes = localByIno.get(v.ino);
      return goes !== undefined && goes !== null && goes.path !== dir;
    }
  }
  return false;
}

/** Pass 2. Local entries parents first; the virtual target is updated as ops are added. */
function createAndUpdate(b: PlanBuilder, input: PlanInput): void {
  const paths = sortParentsFirst([...input.local.keys()], (p) => p);
  for (const path of paths) {
    const e = input.local.get(path)!;
    if (path === '') continue; // the root always exists on the target
    const v = b.virt.get(path);
    if (v && v.kind === e.kind) {
      // An uncertain directory may not exist: create it again (mkdir is idempotent).
      if (e.kind === 'dir' && isUncertain(v)) {
        b.add({ kind: 'mkdir', path, entry: e });
        b.virt.set(path, asKnown(e));
        continue;
      }
      if (!needsUpdate(e, v)) continue;
      if (e.kind === 'file') b.add({ kind: 'put', path, entry: e });
      else if (e.kind === 'symlink') addSymlink(b, input, e);
      b.virt.set(path, asKnown(e));
      continue;
    }
    if (v) removeSubtree(b, path, input.recursiveRemove ?? false);
    if (e.kind === 'dir') b.add({ kind: 'mkdir', path, entry: e });
    else if (e.kind === 'file') b.add({ kind: 'put', path, entry: e });
    else if (!addSymlink(b, input, e)) continue;
    b.virt.set(path, asKnown(e));
  }
}

function needsUpdate(e: LocalEntry, v: KnownEntry): boolean {
  if (!sameFingerprint(e, v)) {
    // Same bytes under a new mtime (touch, or a copy that kept content): the hash decides.
    return !(e.kind === 'file' && e.hash !== undefined && v.hash !== undefined && e.hash === v.hash && e.size === v.size);
  }
  // Racy record: size and mtime cannot be trusted, compare content when the engine hashed it.
  if (e.kind === 'file' && isRacy(v)) return e.hash === undefined || v.hash === undefined || e.hash !== v.hash;
  return false;
}

function addSymlink(b: PlanBuilder, input: PlanInput, e: LocalEntry): boolean {
  if (input.caps.symlinks) {
    b.add({ kind: 'symlink', path: e.path, entry: e });
    return true;
  }
  b.problems.push(symlinkUnsupported(e.path));
  return false;
}

export function symlinkUnsupported(path: string): Problem {
  return { path, code: 'SYMLINK_UNSUPPORTED', message: 'symlink skipped: the target cannot hold links' };
}

function asKnown(e: LocalEntry): KnownEntry {
  return { ...e, recordedAtMs: 0 };
}

/** Pass 3. Whatever the virtual target still holds that the source does not. */
function removeVanished(b: PlanBuilder, input: PlanInput, protectedPath: (p: string) => boolean): void {
  const vanished = sortParentsFirst(
    [...b.virt.keys()].filter((p) => p !== '' && !input.local.has(p) && !protectedPath(p)),
    (p) => p,
  );
  const handled = new Set<string>();
  for (const path of vanished) {
    if (handled.has(path) || !b.virt.has(path)) continue;
    // Only remove from the top of each vanished tree; the tree's own walk handles children.
    if (ancestorsOf(path).some((a) => handled.has(a))) continue;
    const removedUnder = removeSubtree(b, path, input.recursiveRemove ?? false, protectedPath);
    for (const p of removedUnder) handled.add(p);
  }
}

/**
 * Emits removals of `root` and everything the virtual target holds under it, children first,
 * and drops them from `virt`. Returns the removed paths. A protected path (unreadable in the
 * source) keeps its ancestors too, so no rmdir is attempted above it.
 */
function removeSubtree(b: PlanBuilder, root: string, recursive: boolean, protectedPath: (p: string) => boolean = () => false): string[] {
  const rootKnown = b.virt.get(root);
  // A file has no subtree: skip the scan (mass deletes of files stay linear).
  const entries: [string, KnownEntry][] = rootKnown && rootKnown.kind !== 'dir' ? [[root, rootKnown]] : b.subtree(root);
  const kept = entries.filter(([p]) => protectedPath(p)).map(([p]) => p);
  const removable = entries.filter(([p]) => !kept.some((k) => isAtOrUnder(k, p)));
  const rootEntry = b.virt.get(root);
  if (recursive && kept.length === 0 && rootEntry?.kind === 'dir') {
    b.add({ kind: 'rmdir', path: root, recursive: true, count: entries.length });
  } else {
    const childrenFirst = removable.map(([p]) => p).sort((x, y) => compareParentsFirst(y, x));
    for (const p of childrenFirst) {
      const k = b.virt.get(p)!;
      if (k.kind === 'dir') b.add({ kind: 'rmdir', path: p, recursive: false, count: 1 });
      else b.add({ kind: 'remove', path: p, known: k });
    }
  }
  const removed = recursive && kept.length === 0 && rootEntry?.kind === 'dir' ? entries.map(([p]) => p) : removable.map(([p]) => p);
  for (const p of removed) b.virt.delete(p);
  return removed;
}

/**
 * Dependencies follow from paths alone, after all ops exist:
 *   - an op acting at P waits for the op that creates P's nearest created ancestor
 *     (mkdir or rename destination) — for a rename, both its source and destination (for
 *     the source, only a creator planned before it);
 *   - an op creating at P (mkdir, put, symlink, rename destination) waits for every op that
 *     vacates P (remove, rmdir, rename away from P) that was planned before it;
 *   - a non-recursive rmdir of D waits for every op vacating a direct child of D; a recursive
 *     one waits for every op vacating anything under D.
 * Creations never wait for later ops, so the graph has no cycles.
 */
function linkDependencies(ops: Op[]): void {
  // Directory creators are known up front: a rename into a new directory is planned (pass 1)
  // before the mkdir of that directory (pass 2) but must still wait for it.
  const dirCreatorsOf = new Map<string, number[]>();
  for (const op of ops) {
    if (op.kind === 'mkdir' || (op.kind === 'rename' && op.entry.kind === 'dir')) {
      const list = dirCreatorsOf.get(op.path);
      if (list) list.push(op.id);
      else dirCreatorsOf.set(op.path, [op.id]);
    }
  }
  /**
   * The creator of `dir` that an op with id `self` sees: the last before it, else (when
   * `later` allows) the first after. A rename's source never looks later: when it was planned,
   * its directories were there already (known, or brought by an earlier op); a later creator
   * of the same name makes another directory there after this one left.
   */
  const creatorFor = (dir: string, self: number, later: boolean): number | undefined => {
    const list = dirCreatorsOf.get(dir);
    if (!list) return undefined;
    let chosen: number | undefined;
    for (const id of list) if (id < self) chosen = id;
    return chosen ?? (later ? list.find((id) => id !== self) : undefined);
  };
  const vacatersOf = new Map<string, number[]>();
  const vacatersByParent = new Map<string, number[]>();
  const push = (m: Map<string, number[]>, k: string, id: number) => {
    const list = m.get(k);
    if (list) list.push(id);
    else m.set(k, [id]);
  };
  const nearestCreator = (path: string, self: number, later: boolean): number | undefined => {
    for (const a of ancestorsOf(path)) {
      const id = creatorFor(a, self, later);
      if (id !== undefined) return id;
    }
    return undefined;
  };

  for (const op of ops) {
    const deps = new Set<number>();
    const addCreator = (p: string, later: boolean) => {
      const c = nearestCreator(p, op.id, later);
      if (c !== undefined) deps.add(c);
    };
    addCreator(op.path, true);
    if (op.kind === 'rename') {
      addCreator(op.from, false);
      // Whatever leaves the source's subtree must leave before the subtree moves away.
      for (const [p, ids] of vacatersOf) if (isStrictlyUnder(p, op.from)) for (const id of ids) deps.add(id);
    }
    const creates = op.kind === 'mkdir' || op.kind === 'put' || op.kind === 'symlink' || op.kind === 'rename';
    if (creates) for (const id of vacatersOf.get(op.path) ?? []) deps.add(id);
    if (op.kind === 'rmdir') {
      if (op.recursive) {
        for (const [p, ids] of vacatersOf) if (isStrictlyUnder(p, op.path)) for (const id of ids) deps.add(id);
      } else {
        for (const id of vacatersByParent.get(op.path) ?? []) deps.add(id);
      }
    }
    deps.delete(op.id);
    op.deps = [...deps].sort((x, y) => x - y);

    if (op.kind === 'rename') {
      push(vacatersOf, op.from, op.id);
      push(vacatersByParent, parentOf(op.from), op.id);
    }
    if (op.kind === 'remove' || op.kind === 'rmdir') {
      push(vacatersOf, op.path, op.id);
      push(vacatersByParent, parentOf(op.path), op.id);
    }
  }
}
