/**
 * An in-memory model of a target for testing the pure planner: applies ops with the same
 * preconditions a real file system enforces (parent must exist, rmdir needs an empty dir, …),
 * so an ill-ordered plan fails loudly.
 */
import type { EntryKind, KnownEntry, LocalEntry } from '../../src/core/entry.ts';
import type { Op } from '../../src/core/ops.ts';
import { isAtOrUnder, parentOf, rebase } from '../../src/core/paths.ts';

export interface Node {
  kind: EntryKind;
  /** Identity of the content: ino:size:mtime for files, link text for symlinks. */
  content: string;
}

export type Tree = Map<string, Node>;

export function contentOf(e: LocalEntry | KnownEntry): string {
  if (e.kind === 'file') return `${e.ino}:${e.size}:${e.mtimeMs}`;
  if (e.kind === 'symlink') return `->${e.linkTarget ?? ''}`;
  return 'dir';
}

export function treeOf(entries: Iterable<LocalEntry | KnownEntry>): Tree {
  const t: Tree = new Map();
  for (const e of entries) if (e.path !== '') t.set(e.path, { kind: e.kind, content: contentOf(e) });
  return t;
}

function parentIsDir(t: Tree, path: string): boolean {
  const p = parentOf(path);
  return p === '' || t.get(p)?.kind === 'dir';
}

export function applyOp(t: Tree, op: Op): void {
  const fail = (why: string) => {
    throw new Error(`op #${op.id} ${op.kind} ${op.path}: ${why}`);
  };
  switch (op.kind) {
    case 'mkdir':
      if (!parentIsDir(t, op.path)) fail('parent missing');
      if (t.has(op.path) && t.get(op.path)!.kind !== 'dir') fail('occupied');
      t.set(op.path, { kind: 'dir', content: 'dir' });
      return;
    case 'put':
    case 'symlink':
      if (!parentIsDir(t, op.path)) fail('parent missing');
      if (t.get(op.path)?.kind === 'dir') fail('a directory is in the way');
      t.set(op.path, { kind: op.entry.kind, content: contentOf(op.entry) });
      return;
    case 'rename': {
      const src = t.get(op.from);
      if (!src) fail(`source ${op.from} missing`);
      if (!parentIsDir(t, op.path)) fail('destination parent missing');
      const dst = t.get(op.path);
      if (dst && !(dst.kind === 'file' && src!.kind === 'file')) fail('destination occupied');
      const moving = [...t].filter(([p]) => isAtOrUnder(p, op.from));
      for (const [p] of moving) t.delete(p);
      for (const [p, n] of moving) t.set(rebase(p, op.from, op.path), n);
      return;
    }
    case 'remove':
      if (t.get(op.path)?.kind === 'dir') fail('is a directory');
      t.delete(op.path);
      return;
    case 'rmdir':
      if (op.recursive) {
        for (const p of [...t.keys()]) if (isAtOrUnder(p, op.path)) t.delete(p);
      } else {
        for (const p of t.keys()) if (p !== op.path && isAtOrUnder(p, op.path)) fail(`not empty (${p})`);
        t.delete(op.path);
      }
      return;
  }
}

/** Applies ops in an order that respects deps; `pick` chooses among ready ops (randomness). */
export function applyPlan(t: Tree, ops: readonly Op[], pick: (n: number) => number = () => 0): void {
  const done = new Set<number>();
  const pending = [...ops];
  while (pending.length > 0) {
    const ready = pending.filter((op) => op.deps.every((d) => done.has(d)));
    if (ready.length === 0) throw new Error('dependency cycle or dangling dependency');
    const op = ready[pick(ready.length) % ready.length]!;
    applyOp(t, op);
    done.add(op.id);
    pending.splice(pending.indexOf(op), 1);
  }
}
