import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { uncertainDir, uncertainFile, type EntryKind, type KnownEntry, type LocalEntry } from './entry.ts';
import { describeOp } from './ops.ts';
import { plan, type PlanInput } from './plan.ts';
import { applyPlan, treeOf } from '../../test/helpers/memory-tree.ts';
import { parentOf } from './paths.ts';

// A compact notation for trees: 'a/' is a dir, 'a/f=7' a file with inode 7 (size/mtime derived
// from a version suffix: 'f=7.2' is inode 7, version 2), 'l->x' a symlink.
function entries(spec: string[]): LocalEntry[] {
  return spec.map((s) => {
    if (s.endsWith('/')) {
      const [path, ino] = s.slice(0, -1).split('#');
      return { path: path!, kind: 'dir' as EntryKind, size: 0, mtimeMs: 0, ino: ino ?? `d:${path}` };
    }
    if (s.includes('->')) {
      const [path, to] = s.split('->');
      return { path: path!, kind: 'symlink' as EntryKind, size: 0, mtimeMs: 0, ino: `l:${path}`, linkTarget: to! };
    }
    const [path, id] = s.split('=');
    const [ino, version] = (id ?? '0').split('.');
    return { path: path!, kind: 'file' as EntryKind, size: 10 + Number(version ?? 0), mtimeMs: 1000 * Number(version ?? 0), ino: ino! };
  });
}
const known = (spec: string[]): KnownEntry[] => entries(spec).map((e) => ({ ...e, recordedAtMs: 1e12 }));
const mapOf = <T extends { path: string }>(list: T[]) => new Map(list.map((e) => [e.path, e]));

function run(before: string[], after: string[], extra: Partial<PlanInput> = {}) {
  const input: PlanInput = { local: mapOf(entries(after)), known: mapOf(known(before)), caps: { rename: true, symlinks: true }, ...extra };
  const result = plan(input);
  const tree = treeOf(input.known.values());
  applyPlan(tree, result.ops);
  assert.deepEqual(tree, treeOf(input.local.values()), 'applying the plan yields the source');
  return result.ops.map(describeOp);
}

describe('plan(): named cases', () => {
  const cases: { name: string; before: string[]; after: string[]; ops: string[] }[] = [
    { name: 'nothing changed', before: ['a/', 'a/f=1'], after: ['a/', 'a/f=1'], ops: [] },
    { name: 'new file in new dir (mkdir -p)', before: [], after: ['a/', 'a/b/', 'a/b/f=1'], ops: ['mkdir "a"', 'mkdir "a/b"', 'put "a/b/f"'] },
    { name: 'file modified', before: ['f=1'], after: ['f=1.1'], ops: ['put "f"'] },
    { name: 'file renamed', before: ['f=1'], after: ['g=1'], ops: ['rename "f" -> "g"'] },
    { name: 'file renamed into a new dir', before: ['f=1'], after: ['d/', 'd/f=1'], ops: ['rename "f" -> "d/f"', 'mkdir "d"'] },
    { name: 'renamed and modified: put plus remove', before: ['f=1'], after: ['g=1.1'], ops: ['put "g"', 'remove "f"'] },
    { name: 'dir renamed with its files', before: ['a/', 'a/x=1', 'a/y=2'], after: ['b#d:a/', 'b/x=1', 'b/y=2'], ops: ['rename "a" -> "b"'] },
    { name: 'nested rename: dir and a child inside it', before: ['a/', 'a/x=1'], after: ['b#d:a/', 'b/z=1'], ops: ['rename "a" -> "b"', 'rename "b/x" -> "b/z"'] },
    { name: 'rename chain a→b→c', before: ['a=1', 'b=2'], after: ['b=1', 'c=2'], ops: ['rename "b" -> "c"', 'rename "a" -> "b"'] },
    { name: 'swap of two files: two puts, no cycle', before: ['a=1', 'b=2'], after: ['a=2', 'b=1'], ops: ['put "a"', 'put "b"'] },
    { name: 'editor save by rename over the original', before: ['f=1', '.f.swp=2'], after: ['f=2'], ops: ['rename ".f.swp" -> "f"'] },
    { name: 'create then delete: nothing', before: [], after: [], ops: [] },
    { name: 'delete then recreate with new content', before: ['f=1'], after: ['f=2'], ops: ['put "f"'] },
    { name: 'dir replaced by a file', before: ['x/', 'x/f=1'], after: ['x=2'], ops: ['remove "x/f"', 'rmdir "x"', 'put "x"'] },
    { name: 'file replaced by a dir', before: ['x=1'], after: ['x/', 'x/f=2'], ops: ['remove "x"', 'mkdir "x"', 'put "x/f"'] },
    { name: 'symlink retargeted', before: ['l->a'], after: ['l->b'], ops: ['symlink "l"'] },
    { name: 'rm -rf of a tree, children first', before: ['t/', 't/u/', 't/u/f=1', 't/g=2'], after: [], ops: ['remove "t/u/f"', 'rmdir "t/u"', 'remove "t/g"', 'rmdir "t"'] },
    { name: 'nesting swapped: mv a/b c; mv a c/a', before: ['a#1/', 'a/b#2/'], after: ['c#2/', 'c/a#1/'], ops: ['rename "a/b" -> "c"', 'rename "a" -> "c/a"'] },
    // Seen under churn (a restart after kill -9): the outer directory moves below a new
    // directory inside the inner one. Pairing the outer first put the inner one's virtual
    // place under its own destination: renames and mkdir waited for each other forever.
    {
      name: 'nesting swapped through a new directory: mv a/b c; mkdir c/new; mv a c/new/a',
      before: ['a#1/', 'a/b#2/', 'a/b/f=3'],
      after: ['c#2/', 'c/f=3', 'c/new#4/', 'c/new/a#1/'],
      ops: ['rename "a/b" -> "c"', 'rename "a" -> "c/new/a"', 'mkdir "c/new"'],
    },
    {
      name: 'nesting swapped two levels deep: mv a/x/b c; mkdir -p c/n/m; mv a c/n/m/a',
      before: ['a#1/', 'a/x#5/', 'a/x/b#2/'],
      after: ['c#2/', 'c/n#6/', 'c/n/m#7/', 'c/n/m/a#1/', 'c/n/m/a/x#5/'],
      ops: ['rename "a/x/b" -> "c"', 'rename "a" -> "c/n/m/a"', 'mkdir "c/n"', 'mkdir "c/n/m"'],
    },
    {
      name: 'a directory moved out, a new one in its place, a sibling moved into that: mv a/c r; mkdir a/c; mv a/b a/c/r',
      before: ['a#1/', 'a/b#2/', 'a/c#3/'],
      after: ['a#1/', 'r#3/', 'a/c#6/', 'a/c/r#2/'],
      ops: ['rename "a/c" -> "r"', 'rename "a/b" -> "a/c/r"', 'mkdir "a/c"'],
    },
    {
      name: 'three renames in a ring of names: mv b/c c; mv b c/c; mv a b',
      before: ['a#3/', 'b#2/', 'b/c#1/'],
      after: ['c#1/', 'c/c#2/', 'b#3/'],
      ops: ['rename "b/c" -> "c"', 'rename "b" -> "c/c"', 'rename "a" -> "b"'],
    },
    { name: 'child moved out, then its old parent renamed', before: ['a#1/', 'a/x=5'], after: ['y=5', 'b#1/'], ops: ['rename "a" -> "b"', 'rename "b/x" -> "y"'] },
    { name: 'moved out of a dir that is then removed', before: ['a/', 'a/f=1'], after: ['f=1'], ops: ['rename "a/f" -> "f"', 'rmdir "a"'] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(run(c.before, c.after), c.ops));

  it('rm -rf with recursiveRemove is one call', () => {
    assert.deepEqual(run(['t/', 't/u/', 't/u/f=1'], [], { recursiveRemove: true }), ['rmdir -r "t"']);
  });

  it('renaming a directory of 1,000 files is one rename', () => {
    const before = ['big/', ...Array.from({ length: 1000 }, (_, i) => `big/f${i}=${i + 1}`)];
    const after = ['moved#d:big/', ...Array.from({ length: 1000 }, (_, i) => `moved/f${i}=${i + 1}`)];
    assert.deepEqual(run(before, after), ['rename "big" -> "moved"']);
  });

  it('without rename capability, a rename is put plus remove', () => {
    assert.deepEqual(run(['f=1'], ['g=1'], { caps: { rename: false, symlinks: true } }), ['put "g"', 'remove "f"']);
  });

  it('a symlink on a target without links is a problem, not an op', () => {
    const r = plan({ local: mapOf(entries(['l->x'])), known: new Map(), caps: { rename: true, symlinks: false } });
    assert.deepEqual(r.ops, []);
    assert.equal(r.problems[0]?.code, 'SYMLINK_UNSUPPORTED');
  });

  it('never removes under an unreadable directory', () => {
    const r = plan({ local: mapOf(entries(['d/'])), known: mapOf(known(['d/', 'd/f=1', 'd/s/', 'd/s/g=2', 'h=3'])), caps: { rename: true, symlinks: true }, unreadable: ['d/s'] });
    assert.deepEqual(r.ops.map(describeOp).sort(), ['remove "d/f"', 'remove "h"']);
  });

  it('racy record: same size and mtime but different content hash is re-sent', () => {
    const k: KnownEntry = { path: 'f', kind: 'file', size: 5, mtimeMs: 1000, ino: '1', hash: 'aaa', recordedAtMs: 1500 };
    const same: LocalEntry = { path: 'f', kind: 'file', size: 5, mtimeMs: 1000, ino: '1', hash: 'aaa' };
    const changed: LocalEntry = { ...same, hash: 'bbb' };
    const caps = { rename: true, symlinks: true };
    assert.equal(plan({ local: mapOf([same]), known: mapOf([k]), caps }).ops.length, 0);
    assert.deepEqual(plan({ local: mapOf([changed]), known: mapOf([k]), caps }).ops.map(describeOp), ['put "f"']);
    const old = { ...k, recordedAtMs: 1e9 };
    assert.equal(plan({ local: mapOf([{ ...same, hash: undefined }]), known: mapOf([old]), caps }).ops.length, 0, 'an old record trusts the fingerprint');
  });

  it('touch without content change is skipped when hashes match', () => {
    const k: KnownEntry = { path: 'f', kind: 'file', size: 5, mtimeMs: 1000, ino: '1', hash: 'aaa', recordedAtMs: 1e9 };
    const touched: LocalEntry = { path: 'f', kind: 'file', size: 5, mtimeMs: 9000, ino: '1', hash: 'aaa' };
    assert.deepEqual(plan({ local: mapOf([touched]), known: mapOf([k]), caps: { rename: true, symlinks: true } }).ops.map(describeOp), []);
  });
});

describe('plan(): uncertain records (intents journalled before a mkdir or rename)', () => {
  // 'a/?' is an uncertain directory, 'f=?' an uncertain file: the target may or may not hold
  // them (a rename's intent is journalled apart: see TargetSync.start). The plan must bring every possible target (`targets`) to the source.
  const knownWith = (spec: string[]): KnownEntry[] =>
    spec.map((s) => (s.endsWith('/?') ? uncertainDir(s.slice(0, -2)) : s.endsWith('=?') ? uncertainFile(s.slice(0, -2)) : known([s])[0]!));
  const cases: { name: string; before: string[]; targets: string[][]; after: string[]; ops: string[] }[] = [
    { name: 'mkdir intent, the source has the dir: mkdir again', before: ['a/?'], targets: [[], ['a/']], after: ['a/'], ops: ['mkdir "a"'] },
    { name: 'mkdir intent, the dir is gone from the source: rmdir', before: ['a/?'], targets: [[], ['a/']], after: [], ops: ['rmdir "a"'] },
    { name: 'mkdir intent with a file to send inside', before: ['a/?'], targets: [[], ['a/']], after: ['a/', 'a/f=1'], ops: ['mkdir "a"', 'put "a/f"'] },
    { name: 'mkdir intent, a file there now', before: ['a/?'], targets: [[], ['a/']], after: ['a=1'], ops: ['rmdir "a"', 'put "a"'] },
    {
      name: 'a chain of mkdir intents whose tree is gone: removed children first',
      before: ['a/?', 'a/b/?', 'a/b/c/?'],
      targets: [[], ['a/'], ['a/', 'a/b/'], ['a/', 'a/b/', 'a/b/c/']],
      after: [],
      ops: ['rmdir "a/b/c"', 'rmdir "a/b"', 'rmdir "a"'],
    },
    {
      name: 'mkdir intent inside a dir then renamed (a/new → b/new): renamed, then mkdir again',
      before: ['a#1/', 'a/x=5', 'a/new/?'],
      targets: [
        ['a/', 'a/x=5'],
        ['a/', 'a/x=5', 'a/new/'],
      ],
      after: ['b#1/', 'b/x=5', 'b/new/'],
      ops: ['rename "a" -> "b"', 'mkdir "b/new"'],
    },
    {
      name: 'mkdir intent inside a dir then renamed, the new dir gone again',
      before: ['a#1/', 'a/new/?'],
      targets: [['a/'], ['a/', 'a/new/']],
      after: ['b#1/'],
      ops: ['rename "a" -> "b"', 'rmdir "b/new"'],
    },
    { name: 'uncertain file kept: re-sent', before: ['f=?'], targets: [[], ['f=1']], after: ['f=1'], ops: ['put "f"'] },
    { name: 'uncertain file gone: removed', before: ['f=?'], targets: [[], ['f=1']], after: [], ops: ['remove "f"'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const input: PlanInput = { local: mapOf(entries(c.after)), known: mapOf(knownWith(c.before)), caps: { rename: true, symlinks: true } };
      const result = plan(input);
      assert.deepEqual(result.ops.map(describeOp), c.ops);
      for (const t of c.targets) {
        const tree = treeOf(entries(t));
        applyPlan(tree, result.ops);
        assert.deepEqual(tree, treeOf(input.local.values()), `applying the plan to a target holding ${JSON.stringify(t)} yields the source`);
      }
    });
  }
});

// ---- property test: random trees and random histories ----

type Mutation =
  | { t: 'create'; dir: number; name: number; dirKind: boolean }
  | { t: 'write'; pick: number }
  | { t: 'delete'; pick: number }
  | { t: 'replace'; pick: number }
  | { t: 'rename'; pick: number; dir: number; name: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ t: fc.constant('create' as const), dir: fc.nat(), name: fc.nat({ max: 5 }), dirKind: fc.boolean() }),
  fc.record({ t: fc.constant('write' as const), pick: fc.nat() }),
  fc.record({ t: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ t: fc.constant('replace' as const), pick: fc.nat() }),
  fc.record({ t: fc.constant('rename' as const), pick: fc.nat(), dir: fc.nat(), name: fc.nat({ max: 5 }) }),
);

/** A tiny file system with inodes, mutated like a user would (rm -rf, mv of trees, …). */
class ModelFs {
  entries = new Map<string, LocalEntry>();
  private ino = 1;
  private clock = 1;
  dirs(): string[] {
    return ['', ...[...this.entries.values()].filter((e) => e.kind === 'dir').map((e) => e.path)];
  }
  apply(m: Mutation): void {
    const all = [...this.entries.keys()].sort();
    const dirs = this.dirs().sort();
    if (m.t === 'create') {
      const dir = dirs[m.dir % dirs.length]!;
      const path = dir === '' ? `n${m.name}` : `${dir}/n${m.name}`;
      if (this.entries.has(path)) return;
      this.entries.set(path, m.dirKind
        ? { path, kind: 'dir', size: 0, mtimeMs: 0, ino: String(this.ino++) }
        : { path, kind: 'file', size: this.clock, mtimeMs: this.clock++, ino: String(this.ino++) });
    } else if (all.length > 0) {
      const path = all[m.pick % all.length]!;
      const e = this.entries.get(path)!;
      if (m.t === 'write') {
        if (e.kind === 'file') this.entries.set(path, { ...e, size: e.size + 1, mtimeMs: this.clock++ });
      } else if (m.t === 'delete') {
        for (const p of all) if (p === path || p.startsWith(path + '/')) this.entries.delete(p);
      } else if (m.t === 'replace') {
        // Same path, another kind: file → dir → symlink → file.
        for (const p of all) if (p === path || p.startsWith(path + '/')) this.entries.delete(p);
        const ino = String(this.ino++);
        this.entries.set(path, e.kind === 'file'
          ? { path, kind: 'dir', size: 0, mtimeMs: 0, ino }
          : e.kind === 'dir'
            ? { path, kind: 'symlink', size: 0, mtimeMs: 0, ino, linkTarget: `t${this.clock++}` }
            : { path, kind: 'file', size: this.clock, mtimeMs: this.clock++, ino });
      } else {
        const dir = dirs[m.dir % dirs.length]!;
        const to = dir === '' ? `r${m.name}` : `${dir}/r${m.name}`;
        if (to === path || to.startsWith(path + '/') || this.entries.has(to)) return;
        for (const p of all) {
          if (p === path || p.startsWith(path + '/')) {
            const moved = to + p.slice(path.length);
            this.entries.set(moved, { ...this.entries.get(p)!, path: moved });
            this.entries.delete(p);
          }
        }
      }
    }
    assertParents(this.entries);
  }
}

function assertParents(m: Map<string, LocalEntry>): void {
  for (const p of m.keys()) {
    const parent = parentOf(p);
    if (parent !== '' && m.get(parent)?.kind !== 'dir') throw new Error(`model broke: ${p}`);
  }
}

describe('plan(): property', () => {
  it('applying the plan to the known tree yields the source, in any dependency order', () => {
    fc.assert(
      fc.property(
        fc.array(mutation, { maxLength: 25 }),
        fc.array(mutation, { maxLength: 25 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
        (setup, history, renameCap, recursive, picks) => {
          const fs = new ModelFs();
          for (const m of setup) fs.apply(m);
          const knownEntries = new Map([...fs.entries].map(([p, e]) => [p, { ...e, recordedAtMs: 1e12 } as KnownEntry]));
          for (const m of history) fs.apply(m);
          const result = plan({ local: fs.entries, known: knownEntries, caps: { rename: renameCap, symlinks: true }, recursiveRemove: recursive });
          const tree = treeOf(knownEntries.values());
          let i = 0;
          applyPlan(tree, result.ops, (n) => picks[i++ % picks.length]! % n);
          assert.deepEqual(tree, treeOf(fs.entries.values()));
          // No more operations than there are changed paths on either side.
          assert.ok(result.ops.length <= knownEntries.size + fs.entries.size);
        },
      ),
      // More runs (and a fixed seed to replay) from the environment when hunting a bug.
      { numRuns: Number(process.env['PLAN_PROPERTY_RUNS'] ?? 1500), ...(process.env['PLAN_PROPERTY_SEED'] ? { seed: Number(process.env['PLAN_PROPERTY_SEED']) } : {}) },
    );
  });

  // Directories only, created and moved into each other: the histories where renames nest,
  // swap nesting and pass through new directories (what a churn of `mv` makes), which the
  // mixed history above reaches rarely.
  it('directories moved into each other: the plan applies in any order and yields the source', () => {
    const dirMutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.record({ t: fc.constant('create' as const), dir: fc.nat(), name: fc.nat({ max: 3 }), dirKind: fc.constant(true) }),
      fc.record({ t: fc.constant('rename' as const), pick: fc.nat(), dir: fc.nat(), name: fc.nat({ max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(dirMutation, { minLength: 3, maxLength: 12 }), fc.array(dirMutation, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { minLength: 1, maxLength: 50 }), (setup, history, picks) => {
        const fs = new ModelFs();
        for (const m of setup) fs.apply(m);
        const knownEntries = new Map([...fs.entries].map(([p, e]) => [p, { ...e, recordedAtMs: 1e12 } as KnownEntry]));
        for (const m of history) fs.apply(m);
        const result = plan({ local: fs.entries, known: knownEntries, caps: { rename: true, symlinks: true } });
        const tree = treeOf(knownEntries.values());
        let i = 0;
        const shown = () => `known ${[...knownEntries.values()].map((e) => `${e.path}#${e.ino}`).join(' ')}; local ${[...fs.entries.values()].map((e) => `${e.path}#${e.ino}`).join(' ')}; ops ${result.ops.map((o) => `${o.id}:${describeOp(o)}<${o.deps.join(',')}`).join('; ')}`;
        try {
          applyPlan(tree, result.ops, (n) => picks[i++ % picks.length]! % n);
        } catch (err) {
          throw new Error(`${(err as Error).message}: ${shown()}`);
        }
        assert.deepEqual(tree, treeOf(fs.entries.values()), shown());
      }),
      { numRuns: Number(process.env['PLAN_PROPERTY_RUNS'] ?? 3000), ...(process.env['PLAN_PROPERTY_SEED'] ? { seed: Number(process.env['PLAN_PROPERTY_SEED']) } : {}) },
    );
  });
});
