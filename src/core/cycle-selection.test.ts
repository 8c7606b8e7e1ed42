import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LocalEntry } from './entry.ts';
import type { Op } from './ops.ts';
import { decideHolds, isWholeTree, rescanScopesFor, touchedDirs, unfinishedOps, vanishedRemovalTops, withoutUnsettledPuts } from './cycle-selection.ts';

const file = (path: string): LocalEntry => ({ path, kind: 'file', size: 1, mtimeMs: 1, ino: path });
const dir = (path: string): LocalEntry => ({ path, kind: 'dir', size: 0, mtimeMs: 0, ino: path });
const put = (id: number, path: string): Op => ({ id, kind: 'put', path, deps: [], entry: file(path) });
const mkdir = (id: number, path: string): Op => ({ id, kind: 'mkdir', path, deps: [], entry: dir(path) });
const publish = (id: number, path: string, after: number[]): Op => ({ id, kind: 'publish', path, deps: [], after, entry: dir(path) });
const rename = (id: number, from: string, path: string): Op => ({ id, kind: 'rename', from, path, deps: [], entry: file(path) });
const remove = (id: number, path: string): Op => ({ id, kind: 'remove', path, deps: [], known: { ...file(path), recordedAtMs: 0 } });
const rmdir = (id: number, path: string): Op => ({ id, kind: 'rmdir', path, deps: [], recursive: false, count: 1 });

describe('isWholeTree', () => {
  const cases: [string, { path: string; deep: boolean }[], boolean][] = [
    ['nothing', [], false],
    ['the root, deep', [{ path: '', deep: true }], true],
    ['the root, shallow', [{ path: '', deep: false }], false],
    ['a subtree', [{ path: 'a', deep: true }], false],
    ['the root deep absorbs the rest', [{ path: 'a', deep: false }, { path: '', deep: true }], true],
  ];
  for (const [name, scopes, expected] of cases) it(name, () => assert.equal(isWholeTree(scopes), expected));
});

describe('withoutUnsettledPuts', () => {
  it('leaves a file still being written out, and off its publish', () => {
    const ops = [mkdir(1, 'd'), put(2, 'd/a'), put(3, 'd/b'), publish(4, 'd', [2, 3])];
    const out = withoutUnsettledPuts(ops, new Set(['d/b']));
    assert.deepEqual(out.map((o) => o.id), [1, 2, 4]);
    const pub = out.find((o) => o.kind === 'publish');
    assert.deepEqual(pub?.kind === 'publish' ? pub.after : undefined, [2]);
  });
  it('keeps the plan when nothing is unsettled, or the unsettled path is no put', () => {
    const ops = [mkdir(1, 'd'), put(2, 'd/a')];
    assert.equal(withoutUnsettledPuts(ops, new Set()), ops);
    assert.equal(withoutUnsettledPuts(ops, new Set(['d'])), ops);
  });
});

describe('rescanScopesFor', () => {
  const cases: [Op, { path: string; deep: boolean }[]][] = [
    [rename(1, 'a', 'b'), [{ path: 'a', deep: true }, { path: 'b', deep: true }]],
    [rmdir(1, 'd'), [{ path: 'd', deep: true }]],
    [mkdir(1, 'd'), [{ path: 'd', deep: true }]],
    [publish(1, 'd', []), [{ path: 'd', deep: true }]],
    [put(1, 'f'), [{ path: 'f', deep: false }]],
    [remove(1, 'f'), [{ path: 'f', deep: false }]],
  ];
  for (const [op, scopes] of cases) it(op.kind, () => assert.deepEqual(rescanScopesFor(op), scopes));
});

describe('touchedDirs', () => {
  it('parents of every op, both sides of a rename, created directories themselves', () => {
    const dirs = touchedDirs([put(1, 'a/f'), rename(2, 'x/g', 'y/g'), mkdir(3, 'n'), publish(4, 'p/q', []), remove(5, 'top')]);
    assert.deepEqual(dirs.sort(), ['', 'a', 'n', 'p', 'p/q', 'x', 'y']);
  });
});

describe('unfinishedOps', () => {
  const nameRefused = new Error('E_NAME');
  const transient = new Error('transient');
  const down = new Error('down');
  const refused = (e: Error) => e === nameRefused;
  it('retries transient failures, retry-later and skipped ops', () => {
    const r = unfinishedOps({ failed: [{ op: put(1, 'a'), error: transient }], skipped: [put(2, 'b')], retryLater: [put(3, 'c')] }, refused);
    assert.deepEqual(r.retriable.map((f) => f.op.id), [1]);
    assert.deepEqual(r.ops.map((o) => o.id), [3, 1, 2]);
  });
  it('a refused name is not retried, nor what was skipped beneath it', () => {
    const r = unfinishedOps({ failed: [{ op: mkdir(1, 'bad'), error: nameRefused }], skipped: [put(2, 'bad/f'), put(3, 'other')], retryLater: [] }, refused);
    assert.deepEqual(r.retriable, []);
    assert.deepEqual(r.ops.map((o) => o.id), [3]);
  });
  it('the target-wide error is not a path failure to retry', () => {
    const r = unfinishedOps({ failed: [{ op: put(1, 'a'), error: down }], skipped: [], retryLater: [], targetError: down }, refused);
    assert.deepEqual(r.retriable, []);
    assert.deepEqual(r.ops, []);
  });
});

describe('vanishedRemovalTops', () => {
  it('the topmost removals of paths absent from the source', () => {
    const ops = [remove(1, 'd/f'), rmdir(2, 'd'), remove(3, 'g'), remove(4, 'x')];
    const present = new Map([['x', dir('x')]]);
    assert.deepEqual([...vanishedRemovalTops(ops, present)].sort(), ['d', 'g']);
  });
});

describe('decideHolds', () => {
  const cases: { name: string; tops: string[]; held: [string, number][]; now: number; keep: string[]; fresh: string[]; after: [string, number][] }[] = [
    { name: 'a new vanished path is held from now', tops: ['a'], held: [], now: 100, keep: ['a'], fresh: ['a'], after: [['a', 100]] },
    { name: 'within the grace: still held, since then', tops: ['a'], held: [['a', 100]], now: 200, keep: ['a'], fresh: [], after: [['a', 100]] },
    { name: 'after the grace: released (removed now)', tops: ['a'], held: [['a', 100]], now: 250, keep: [], fresh: [], after: [] },
    { name: 'paired or back: settled, forgotten', tops: [], held: [['a', 100]], now: 120, keep: [], fresh: [], after: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideHolds(new Set(c.tops), new Map(c.held), c.now, 150);
      assert.deepEqual(d.keep, c.keep);
      assert.deepEqual(d.fresh, c.fresh);
      assert.deepEqual([...d.held], c.after);
    });
  }
});
