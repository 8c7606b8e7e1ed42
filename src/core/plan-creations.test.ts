import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { EntryKind, LocalEntry } from './entry.ts';
import { describeOp, type Op } from './ops.ts';
import { compareParentsFirst, joinPath, parentOf } from './paths.ts';
import { plan } from './plan.ts';
import { CreationPlanner } from './plan-creations.ts';

function entry(path: string, kind: EntryKind): LocalEntry {
  return { path, kind, size: kind === 'file' ? 3 : 0, mtimeMs: 1, ino: `i:${path}`, ...(kind === 'symlink' ? { linkTarget: 'x' } : {}) };
}

/** Ops as text with their dependencies named by path: "put a/f <- mkdir a". */
function described(ops: readonly Op[]): string[] {
  const byId = new Map(ops.map((op) => [op.id, op]));
  return ops
    .map((op) => {
      const name = (id: number) => `${byId.get(id)!.kind} ${byId.get(id)!.path}`;
      const staged = (op.kind === 'mkdir' && op.staged ? ' (staged)' : '') + (op.kind === 'put' && op.stagedIn !== undefined ? ` [in ${op.stagedIn}]` : '');
      const after = op.after ? ` after ${op.after.map(name).join(', ')}` : '';
      return `${op.kind} ${op.path}${staged}${op.deps.map((d) => ` <- ${name(d)}`).join('')}${after}`;
    })
    .sort();
}

/** The ops of planning `batches` in turn, then finish(). */
function planAll(p: CreationPlanner, batches: LocalEntry[][]): Op[] {
  return [...batches.flatMap((b) => p.plan(b).ops), ...p.finish().ops];
}

describe('CreationPlanner', () => {
  it('creates each entry after the mkdir of its parent, across batches', () => {
    const p = new CreationPlanner({ rename: true, symlinks: true }, false);
    const ops = planAll(p, [[entry('', 'dir'), entry('a', 'dir'), entry('top.txt', 'file')], [entry('a/b', 'dir'), entry('a/f', 'file'), entry('a/l', 'symlink')], [entry('a/b/g', 'file')]]);
    assert.deepEqual(described(ops), [
      'mkdir a',
      'mkdir a/b <- mkdir a',
      'put a/b/g <- mkdir a/b',
      'put a/f <- mkdir a',
      'put top.txt',
      'symlink a/l <- mkdir a',
    ]);
    const ids = ops.map((op) => op.id);
    assert.equal(new Set(ids).size, ids.length, 'ids are unique across batches');
  });

  it("plans a directory's mkdir with its children; finish() plans those that never had any", () => {
    const p = new CreationPlanner({ rename: true, symlinks: true }, false);
    assert.deepEqual(described(p.plan([entry('', 'dir'), entry('a', 'dir'), entry('e', 'dir')]).ops), [], 'a and e wait for their listings');
    assert.deepEqual(described(p.plan([entry('a/f', 'file')]).ops), ['mkdir a', 'put a/f <- mkdir a']);
    assert.deepEqual(described(p.finish().ops), ['mkdir e']);
  });

  it('stages a new directory of small files: created under a temp name, published after its files', () => {
    const p = new CreationPlanner({ rename: true, symlinks: true }, { maxFiles: 3, maxBytes: 100 });
    const ops = planAll(p, [
      [entry('', 'dir'), entry('a', 'dir')],
      [entry('a/f', 'file'), entry('a/g', 'file'), entry('a/b', 'dir'), entry('a/l', 'symlink')],
      [entry('a/b/h', 'file')],
    ]);
    assert.deepEqual(described(ops), [
      'mkdir a (staged)',
      'mkdir a/b <- publish a',
      'publish a <- mkdir a after put a/f, put a/g',
      'put a/b/h <- mkdir a/b',
      'put a/f [in a] <- mkdir a',
      'put a/g [in a] <- mkdir a',
      'symlink a/l <- publish a',
    ]);
  });

  it('does not stage a directory whose name the target cannot carry (not valid UTF-8)', () => {
    const bad = `a${String.fromCharCode(0xdcff)}`;
    const plan = (byteNames: boolean) =>
      described(planAll(new CreationPlanner({ rename: true, symlinks: true, byteNames }, { maxFiles: 3, maxBytes: 100 }), [[entry('', 'dir'), entry(bad, 'dir')], [entry(`${bad}/f`, 'file'), entry(`${bad}/g`, 'file')]]));
    assert.ok(plan(true).includes(`mkdir ${bad} (staged)`));
    assert.deepEqual(plan(false), [`mkdir ${bad}`, `put ${bad}/f <- mkdir ${bad}`, `put ${bad}/g <- mkdir ${bad}`]);
  });

  const stagedDirs = (limits: { maxFiles: number; maxBytes: number } | false, rename: boolean, files: LocalEntry[]) =>
    planAll(new CreationPlanner({ rename, symlinks: true }, limits), [[entry('', 'dir'), entry('d', 'dir')], files])
      .filter((op) => op.kind === 'publish')
      .map((op) => op.path);
  const sized = (path: string, size: number): LocalEntry => ({ ...entry(path, 'file'), size });
  const table: [string, ReturnType<typeof stagedDirs>, string[]][] = [
    ['two files', stagedDirs({ maxFiles: 10, maxBytes: 100 }, true, [sized('d/a', 1), sized('d/b', 1)]), ['d']],
    ['one file: nothing to save', stagedDirs({ maxFiles: 10, maxBytes: 100 }, true, [sized('d/a', 1)]), []],
    ['more files than maxFiles', stagedDirs({ maxFiles: 2, maxBytes: 100 }, true, [sized('d/a', 1), sized('d/b', 1), sized('d/c', 1)]), []],
    ['exactly maxFiles and maxBytes', stagedDirs({ maxFiles: 2, maxBytes: 100 }, true, [sized('d/a', 50), sized('d/b', 50)]), ['d']],
    ['more bytes than maxBytes', stagedDirs({ maxFiles: 10, maxBytes: 100 }, true, [sized('d/a', 50), sized('d/b', 51)]), []],
    ['a target that cannot rename', stagedDirs({ maxFiles: 10, maxBytes: 100 }, false, [sized('d/a', 1), sized('d/b', 1)]), []],
    ['staging off', stagedDirs(false, true, [sized('d/a', 1), sized('d/b', 1)]), []],
  ];
  for (const [name, got, want] of table) it(`staging: ${name}`, () => assert.deepEqual(got, want));

  it('reports links as problems when the target cannot hold them', () => {
    const p = new CreationPlanner({ rename: true, symlinks: false });
    const result = p.plan([entry('', 'dir'), entry('l', 'symlink'), entry('f', 'file')]);
    assert.deepEqual(described(result.ops), ['put f']);
    assert.deepEqual(
      result.problems.map((x) => [x.path, x.code]),
      [['l', 'SYMLINK_UNSUPPORTED']],
    );
  });

  // A random tree, read as the scanner reads it (depth first, a directory's listing whole)
  // and cut into random batches between listings.
  const tree = fc.uniqueArray(
    fc.record({ parent: fc.nat(), name: fc.constantFrom('a', 'b', 'c', 'd'), kind: fc.constantFrom<EntryKind>('dir', 'file', 'symlink') }),
    { maxLength: 40, selector: (x) => `${x.parent}/${x.name}` },
  );
  function scanned(specs: { parent: number; name: string; kind: EntryKind }[]): LocalEntry[][] {
    const dirs = [''];
    const children = new Map<string, LocalEntry[]>([['', []]]);
    for (const s of specs) {
      const parent = dirs[s.parent % dirs.length]!;
      const path = joinPath(parent, s.name);
      if (children.get(parent)!.some((e) => e.path === path)) continue;
      children.get(parent)!.push(entry(path, s.kind));
      if (s.kind === 'dir') {
        dirs.push(path);
        children.set(path, []);
      }
    }
    const listings: LocalEntry[][] = [[entry('', 'dir')]];
    const stack = [''];
    while (stack.length > 0) {
      const d = stack.pop()!;
      const listing = children.get(d)!;
      if (listing.length > 0) listings.push(listing);
      for (const e of [...listing].reverse()) if (e.kind === 'dir') stack.push(e.path);
    }
    return listings;
  }
  function batched(listings: LocalEntry[][], cuts: number[]): LocalEntry[][] {
    const out: LocalEntry[][] = [];
    let at = 0;
    for (const cut of [...cuts, listings.length]) {
      out.push(listings.slice(at, at + cut).flat());
      at += cut;
      if (at >= listings.length) break;
    }
    return out;
  }

  it('equals plan() with nothing known when nothing is staged, for any tree and any batching', () => {
    fc.assert(
      fc.property(tree, fc.array(fc.nat({ max: 3 }), { maxLength: 20 }), fc.boolean(), (specs, cuts, symlinks) => {
        const listings = scanned(specs);
        const entries = listings.flat().sort((x, y) => compareParentsFirst(x.path, y.path));
        const caps = { rename: true, symlinks };
        const expected = plan({ local: new Map(entries.map((e) => [e.path, e])), known: new Map(), caps });
        const planner = new CreationPlanner(caps, false);
        const problems: string[] = [];
        const ops: Op[] = [];
        for (const b of batched(listings, cuts)) {
          const r = planner.plan(b);
          ops.push(...r.ops);
          problems.push(...r.problems.map((x) => x.path));
        }
        ops.push(...planner.finish().ops);
        assert.deepEqual(described(ops), described(expected.ops));
        assert.deepEqual(problems.sort(), expected.problems.map((x) => x.path).sort());
      }),
    );
  });

  it('with staging: creates the same paths, each after what makes its parent visible', () => {
    fc.assert(
      fc.property(tree, fc.array(fc.nat({ max: 3 }), { maxLength: 20 }), fc.nat({ max: 4 }), (specs, cuts, maxFiles) => {
        const listings = scanned(specs);
        const entries = listings.flat();
        const caps = { rename: true, symlinks: true };
        const expected = plan({ local: new Map(entries.map((e) => [e.path, e])), known: new Map(), caps });
        const planner = new CreationPlanner(caps, { maxFiles, maxBytes: 1000 });
        const ops: Op[] = [];
        for (const b of batched(listings, cuts)) ops.push(...planner.plan(b).ops);
        ops.push(...planner.finish().ops);
        const created = (list: readonly Op[]) => list.filter((o) => o.kind !== 'publish').map((o) => `${o.kind} ${o.path}`).sort();
        assert.deepEqual(created(ops), created(expected.ops));
        const index = new Map(ops.map((o, i) => [o.id, i]));
        const byId = new Map(ops.map((o) => [o.id, o]));
        const publishOf = new Map(ops.filter((o) => o.kind === 'publish').map((o) => [o.path, o]));
        for (const [i, o] of ops.entries()) {
          for (const d of [...o.deps, ...(o.after ?? [])]) assert.ok(index.get(d)! < i, `${describeOp(o)} waits only for earlier ops`);
          const parent = parentOf(o.path);
          if (o.path === '' || parent === '' || o.kind === 'publish') continue;
          const staged = publishOf.get(parent);
          const dep = byId.get(o.deps[0]!)!;
          if (o.kind === 'put' && staged) {
            assert.equal(o.stagedIn, parent);
            assert.ok(dep.kind === 'mkdir' && dep.staged && dep.path === parent, `${o.path} goes into the staged ${parent}`);
            assert.ok(staged.after!.includes(o.id), `publishing ${parent} waits for ${o.path}`);
          } else {
            assert.ok(o.kind !== 'put' || o.stagedIn === undefined);
            assert.equal(dep.path, parent, `${describeOp(o)} waits for its parent`);
            assert.equal(dep.kind, staged ? 'publish' : 'mkdir');
          }
        }
      }),
    );
  });
});
