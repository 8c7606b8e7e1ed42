/**
 * The selections a cycle makes on its plan and on what the executor reported, as pure
 * functions of data (the per-target loop, engine/target-sync.ts, does the I/O around them):
 * which uploads wait because their file is still being written, which removals are held for
 * the other half of a rename, what is looked at again after a cycle, and which directories a
 * cycle changed. See docs/architecture.md, "The per-target loop".
 */
import type { LocalEntry } from './entry.ts';
import type { Op } from './ops.ts';
import { isAtOrUnder, parentOf } from './paths.ts';
import { normalizeScopes, type Scope } from './scope.ts';

/** The scopes of a full reconcile: the whole tree, deep. */
export function isWholeTree(scopes: readonly Scope[]): boolean {
  return scopes.length > 0 && normalizeScopes(scopes).every((s) => s.path === '' && s.deep);
}

/**
 * The plan without the uploads of files still being written (they wait for the next cycle).
 * Nothing depends on a put (it creates no directory and vacates nothing); a publish waits for
 * its directory's puts to end, so those left out are taken off its list.
 */
export function withoutUnsettledPuts(ops: Op[], unsettled: ReadonlySet<string>): Op[] {
  if (unsettled.size === 0) return ops;
  const left = new Set(ops.filter((op) => op.kind === 'put' && unsettled.has(op.path)).map((op) => op.id));
  if (left.size === 0) return ops;
  return ops.filter((op) => !left.has(op.id)).map((op) => (op.kind === 'publish' ? { ...op, after: op.after.filter((id) => !left.has(id)) } : op));
}

/** The scopes to look at again when an op did not finish. */
export function rescanScopesFor(op: Op): Scope[] {
  switch (op.kind) {
    case 'rename':
      return [{ path: op.from, deep: true }, { path: op.path, deep: true }];
    case 'rmdir':
    case 'mkdir':
    case 'publish':
      return [{ path: op.path, deep: true }];
    default:
      return [{ path: op.path, deep: false }];
  }
}

/** The directories whose entries `done` changed on the target (a `once` verifies them). */
export function touchedDirs(done: readonly Op[]): string[] {
  const dirs = new Set<string>();
  for (const op of done) {
    dirs.add(parentOf(op.path));
    if (op.kind === 'rename') dirs.add(parentOf(op.from));
    if (op.kind === 'mkdir' || op.kind === 'publish') dirs.add(op.path);
  }
  return [...dirs];
}

/** What the executor reported, as far as the choice of what to do again needs it. */
export interface EndedOps<E> {
  readonly failed: readonly { readonly op: Op; readonly error: E }[];
  readonly skipped: readonly Op[];
  readonly retryLater: readonly Op[];
  readonly targetError?: E;
}

export interface Unfinished<E> {
  /** Failed for their path and worth another try (not the target-wide error, not a refused name). */
  readonly retriable: readonly { readonly op: Op; readonly error: E }[];
  /** Every op to look at again: retry-later, retriable failures, skipped ops not under a refused name. */
  readonly ops: readonly Op[];
}

/**
 * Everything not finished is looked at again. A name the target cannot carry (`refusedName`)
 * stays refused until the path changes (a new event), and so does what was skipped beneath it
 * (the files of a refused directory): looking again at once would only be refused again, in a
 * loop.
 */
export function unfinishedOps<E>(report: EndedOps<E>, refusedName: (error: E) => boolean): Unfinished<E> {
  const refused = report.failed.filter((f) => refusedName(f.error)).map((f) => f.op.path);
  const retriable = report.failed.filter((f) => f.error !== report.targetError && !refusedName(f.error));
  const skipped = refused.length === 0 ? report.skipped : report.skipped.filter((op) => !refused.some((p) => isAtOrUnder(op.path, p)));
  return { retriable, ops: [...report.retryLater, ...retriable.map((f) => f.op), ...skipped] };
}

/**
 * The topmost paths a plan removes because they vanished from the source (not because their
 * kind changed): the candidates for a rename's other half.
 */
export function vanishedRemovalTops(ops: readonly Op[], present: ReadonlyMap<string, LocalEntry>): Set<string> {
  const removed = ops.filter((o) => (o.kind === 'rmdir' || o.kind === 'remove') && !present.has(o.path)).map((o) => o.path);
  return new Set(removed.filter((p) => !removed.some((q) => q !== p && isAtOrUnder(p, q))));
}

export interface HoldDecision {
  /** Paths whose removal is held this cycle. */
  readonly keep: string[];
  /** Of those, the ones held for the first time (a cycle looks at them after the grace). */
  readonly fresh: string[];
  /** The held paths and since when, after this cycle. */
  readonly held: Map<string, number>;
}

/**
 * Which vanished paths keep their removal held for the other half of a rename: a path held
 * for the first time, or held for less than `graceMs`; a held path that is no longer an
 * unpaired removal (paired, or back) is settled and dropped; one held for the whole grace is
 * released (removed this cycle).
 */
export function decideHolds(tops: ReadonlySet<string>, held: ReadonlyMap<string, number>, now: number, graceMs: number): HoldDecision {
  const next = new Map<string, number>();
  const keep: string[] = [];
  const fresh: string[] = [];
  for (const p of tops) {
    const heldAt = held.get(p);
    if (heldAt === undefined) {
      next.set(p, now);
      fresh.push(p);
      keep.push(p);
    } else if (now - heldAt < graceMs) {
      next.set(p, heldAt);
      keep.push(p);
    }
  }
  return { keep, fresh, held: next };
}
