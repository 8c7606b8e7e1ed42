import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { EntryKind, LocalEntry } from './entry.ts';
import type { Op } from './ops.ts';
import { compareParentsFirst, joinPath } from './paths.ts';
import { plan } from './plan.ts';
import { CreationPlanner } from './plan-creations.ts';

function entry(path: string, kind: EntryKind): LocalEntry {
  return { path, kind, size: kind === 'file' ? 3 : 0, mtimeMs: 1, ino: `i:${path}`, ...(kind === 'symlink' ? { linkTarget: 'x' } : {}) };
}

/** Ops as text with their dependencies named by path: "put a/f <- mkdir a". */
function described(ops: readonly Op[]): string[] {
  const byId = new Map(ops.map((op) => [op.id, op]));
  return ops
    .map((op) => `${op.kind} ${op.path}${op.deps.map((d) => ` <- ${byId.get(d)!.kind} ${byId.get(d)!.path}`).join('')}`)
    .sort();
}

describe('CreationPlanner', () => {
  it('creates each entry after the mkdir of its parent, across batches', () => {
    const p = new CreationPlanner({ rename: true, symlinks: true });
    const first = p.plan([entry('', 'dir'), entry('a', 'dir'), entry('top.txt', 'file')]);
    const second = p.plan([entry('a/b', 'dir'), entry('a/f', 'file'), entry('a/l', 'symlink')]);
    const third = p.plan([entry('a/b/g', 'file')]);
    assert.deepEqual(described([...first.ops, ...second.ops, ...third.ops]), [
      'mkdir a',
      'mkdir a/b <- mkdir a',
      'put a/b/g <- mkdir a/b',
      'put a/f <- mkdir a',
      'put top.txt',
      'symlink a/l <- mkdir a',
    ]);
    const ids = [...first.ops, ...second.ops, ...third.ops].map((op) => op.id);
    assert.equal(new Set(ids).size, ids.length, 'ids are unique across batches');
  });

  it('reports links as problems when the target cannot hold them', () => {
    const p = new CreationPlanner({ rename: true, symlinks: false });
    const result = p.plan([entry('l', 'symlink'), entry('f', 'file')]);
    assert.deepEqual(described(result.ops), ['put f']);
    assert.deepEqual(
      result.problems.map((x) => [x.path, x.code]),
      [['l', 'SYMLINK_UNSUPPORTED']],
    );
  });

  // A random tree, read in parents-first order and cut into random batches, is planned as
  // plan() plans it when the target holds nothing we know of.
  const tree = fc.uniqueArray(
    fc.record({ parent: fc.nat(), name: fc.constantFrom('a', 'b', 'c', 'd'), kind: fc.constantFrom<EntryKind>('dir', 'file', 'symlink') }),
    { maxLength: 40, selector: (x) => `${x.parent}/${x.name}` },
  );
  it('equals plan() with nothing known, for any tree and any batching', () => {
    fc.assert(
      fc.property(tree, fc.array(fc.nat({ max: 6 }), { maxLength: 20 }), fc.boolean(), (specs, cuts, symlinks) => {
        const dirs = [''];
        const entries: LocalEntry[] = [entry('', 'dir')];
        const seen = new Set<string>();
        for (const s of specs) {
          const path = joinPath(dirs[s.parent % dirs.length]!, s.name);
          if (seen.has(path)) continue;
          seen.add(path);
          entries.push(entry(path, s.kind));
          if (s.kind === 'dir') dirs.push(path);
        }
        entries.sort((x, y) => compareParentsFirst(x.path, y.path));
        const caps = { rename: true, symlinks };
        const expected = plan({ local: new Map(entries.map((e) => [e.path, e])), known: new Map(), caps });
        const planner = new CreationPlanner(caps);
        const ops: Op[] = [];
        const problems: string[] = [];
        let at = 0;
        for (const cut of [...cuts, entries.length]) {
          const batch = planner.plan(entries.slice(at, at + cut));
          at += cut;
          ops.push(...batch.ops);
          problems.push(...batch.problems.map((x) => x.path));
          if (at >= entries.length) break;
        }
        assert.deepEqual(described(ops), described(expected.ops));
        assert.deepEqual(problems.sort(), expected.problems.map((x) => x.path).sort());
      }),
    );
  });
});
