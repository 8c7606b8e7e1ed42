import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flushDelay, flushDelayWithClosed, unsettledPaths } from './debounce.ts';
import { backoffDelay, OP_RETRY } from './retry.ts';
import { needsDeepScan, normalizeScopes, widenScope } from './scope.ts';
import { isTempName, tempPathFor } from './temp-name.ts';

describe('scopes', () => {
  it('a deep scope absorbs the paths under it; duplicates merge with deep winning', () => {
    assert.deepEqual(
      normalizeScopes([{ path: 'a/b', deep: false }, { path: 'a', deep: true }, { path: 'c', deep: false }, { path: 'c', deep: true }, { path: 'd/e', deep: false }]),
      [{ path: 'a', deep: true }, { path: 'c', deep: true }, { path: 'd/e', deep: false }],
    );
  });
  it('widens to the nearest ancestor whose parent the target holds (mkdir -p)', () => {
    const known = new Map([['x', 'dir' as const]]);
    assert.deepEqual(widenScope({ path: 'x/a/b/c', deep: false }, (p) => known.get(p)), { path: 'x/a', deep: true });
    assert.deepEqual(widenScope({ path: 'x/f', deep: false }, (p) => known.get(p)), { path: 'x/f', deep: false });
    assert.deepEqual(widenScope({ path: 'top', deep: false }, () => undefined), { path: 'top', deep: false });
  });
  const deepCases: [string, Parameters<typeof needsDeepScan>[0], Parameters<typeof needsDeepScan>[1], boolean][] = [
    ['new dir', { kind: 'dir', ino: '1' }, undefined, true],
    ['same dir', { kind: 'dir', ino: '1' }, { kind: 'dir', ino: '1' }, false],
    ['dir replaced (other inode)', { kind: 'dir', ino: '2' }, { kind: 'dir', ino: '1' }, true],
    ['dir vanished', undefined, { kind: 'dir', ino: '1' }, true],
    ['file vanished', undefined, { kind: 'file', ino: '1' }, false],
    ['dir became file', { kind: 'file', ino: '3' }, { kind: 'dir', ino: '1' }, true],
    ['file changed', { kind: 'file', ino: '1' }, { kind: 'file', ino: '1' }, false],
  ];
  for (const [name, local, known, deep] of deepCases) it(`deep scan: ${name} → ${deep}`, () => assert.equal(needsDeepScan(local, known), deep));
});

describe('debounce', () => {
  const cases: [string, number, number, number, number][] = [
    // name, now, first, last, expected delay (quiet 20, max 1000)
    ['just hinted: wait the quiet window', 100, 100, 100, 20],
    ['quiet window passed: flush', 125, 100, 100, 0],
    ['still busy: wait for quiet', 500, 100, 495, 15],
    ['busy for the whole cap: flush anyway', 1100, 100, 1099, 0],
    ['cap nearer than quiet end', 1090, 100, 1085, 10],
  ];
  for (const [name, now, first, last, expected] of cases) {
    it(name, () => assert.equal(flushDelay(now, { firstHintAt: first, lastHintAt: last }, 20, 1000), expected));
  }
});

describe('paths still being written at a flush (quiet 20 ms, cap 1000 ms)', () => {
  // [name, now, hints as [path, first, last], held paths, settlesInMs]
  const cases: [string, number, [string, number, number][], string[], number][] = [
    ['a quiet flush holds nothing', 1000, [['a', 900, 975], ['b', 950, 980]], [], 0],
    ['a capped flush holds the path hinted within the quiet window', 1000, [['done', 10, 500], ['writing', 995, 995]], ['writing'], 15],
    ['exactly quiet for 20 ms: settled', 1000, [['a', 990, 980]], [], 0],
    ['a path that keeps changing is not held past the cap', 1000, [['growing.log', 0, 999], ['new', 998, 999]], ['new'], 19],
    ['several held: settles when the first has been quiet', 1000, [['x', 990, 985], ['y', 995, 999]], ['x', 'y'], 5],
    ['at least 1 ms, never 0, while something is held', 1000, [['x', 990, 980.5]], ['x'], 1],
  ];
  for (const [name, now, hints, held, settles] of cases) {
    it(name, () => {
      const got = unsettledPaths(hints.map(([p, first, last]) => [p, { first, last }] as const), now, 20, 1000);
      assert.deepEqual([...got.paths].sort(), held);
      assert.equal(got.settlesInMs, settles);
    });
  }
});

describe('files closed after writing (IN_CLOSE_WRITE) skip the quiet window (quiet 20 ms, cap 1000 ms)', () => {
  it('a closed path pending: flush now; none: the usual window', () => {
    assert.equal(flushDelayWithClosed(100, { firstHintAt: 100, lastHintAt: 100 }, true, 20, 1000), 0);
    assert.equal(flushDelayWithClosed(100, { firstHintAt: 100, lastHintAt: 100 }, false, 20, 1000), 20);
  });
  // [name, now, hints as [path, first, last, closed], held paths]
  const cases: [string, number, [string, number, number, boolean][], string[]][] = [
    ['a path closed just now is not held', 1000, [['done', 1000, 1000, true]], []],
    ['beside it, a path still being written is held', 1000, [['done', 999, 1000, true], ['open', 995, 999, false]], ['open']],
    ['a path written again after its close (closed false) is held again', 1000, [['again', 990, 1000, false]], ['again']],
  ];
  for (const [name, now, hints, held] of cases) {
    it(name, () => {
      const got = unsettledPaths(hints.map(([p, first, last, closed]) => [p, { first, last, closed }] as const), now, 20, 1000);
      assert.deepEqual([...got.paths].sort(), held);
    });
  }
});

describe('retry backoff', () => {
  it('grows exponentially with jitter and is capped', () => {
    assert.equal(backoffDelay(0, OP_RETRY, () => 0), 50);
    assert.equal(backoffDelay(0, OP_RETRY, () => 1), 100);
    assert.equal(backoffDelay(3, OP_RETRY, () => 1), 800);
    assert.equal(backoffDelay(20, OP_RETRY, () => 1), 2000);
  });
});

describe('temp names', () => {
  it('are hidden, in the same directory, recognised, and short', () => {
    const t = tempPathFor('a/b/page.html', 'abc123');
    assert.equal(t, 'a/b/.page.html.sync-inotify-abc123.tmp');
    assert.equal(isTempName('.page.html.sync-inotify-abc123.tmp'), true);
    assert.equal(isTempName('page.html'), false);
    assert.ok(Buffer.byteLength(tempPathFor('x'.repeat(250), 'abc123')) < 255);
  });
});
