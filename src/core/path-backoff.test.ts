import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failureReach, nextPathBackoff, PATH_RETRY, type PathBackoff } from './path-backoff.ts';

const top = () => 1; // jitter at its ceiling: delays are exactly base·2ⁿ, capped

describe('per-path failure backoff', () => {
  const reach: [scope: string | undefined, expected: string][] = [
    ['path', 'path'], // E_PERMISSION, E_EXISTS, E_LINK_IN_PATH, …
    [undefined, 'path'], // the source file could not be read
    ['transient', 'target'], // E_CONNECTION after the operation's own retries
    ['target', 'target'], // E_TIMEOUT, E_NO_SPACE
    ['pause', 'target'], // E_AUTH
  ];
  for (const [scope, expected] of reach) it(`scope ${String(scope)} → ${expected}`, () => assert.equal(failureReach(scope), expected));

  type Row = { name: string; prev: [string, PathBackoff][]; done: string[]; failed: [string, string | undefined][]; now: number; table: [string, PathBackoff][]; later: string[]; targetWide: number };
  const rows: Row[] = [
    { name: 'a first per-path failure waits 1 s, others are untouched', prev: [], done: ['ok.txt'], failed: [['locked/f', 'path']], now: 0, table: [['locked/f', { failures: 1, retryAt: 1_000 }]], later: ['locked/f'], targetWide: 0 },
    { name: 'failing again doubles the wait', prev: [['f', { failures: 2, retryAt: 2_000 }]], done: [], failed: [['f', 'path']], now: 3_000, table: [['f', { failures: 3, retryAt: 3_000 + 4_000 }]], later: ['f'], targetWide: 0 },
    { name: 'the wait is capped at a minute', prev: [['f', { failures: 12, retryAt: 100 }]], done: [], failed: [['f', 'path']], now: 200, table: [['f', { failures: 13, retryAt: 200 + 60_000 }]], later: ['f'], targetWide: 0 },
    { name: 'a success clears the path', prev: [['f', { failures: 4, retryAt: 500 }]], done: ['f'], failed: [], now: 600, table: [], later: [], targetWide: 0 },
    { name: 'a target-wide failure is not the path\'s: counted for the target, the path keeps its count', prev: [['f', { failures: 2, retryAt: 500 }]], done: [], failed: [['f', 'transient'], ['g', 'target']], now: 600, table: [['f', { failures: 2, retryAt: 500 }]], later: [], targetWide: 2 },
    { name: 'a source file that could not be read backs off on its own', prev: [], done: [], failed: [['secret', undefined]], now: 0, table: [['secret', { failures: 1, retryAt: 1_000 }]], later: ['secret'], targetWide: 0 },
    { name: 'an entry quiet for a whole maxMs after its wait is forgotten; a recent one kept', prev: [['old', { failures: 3, retryAt: 1_000 }], ['recent', { failures: 1, retryAt: 50_000 }]], done: [], failed: [], now: 1_000 + PATH_RETRY.maxMs + 1, table: [['recent', { failures: 1, retryAt: 50_000 }]], later: [], targetWide: 0 },
    { name: 'other paths of the same cycle each get their own wait', prev: [['a', { failures: 1, retryAt: 0 }]], done: ['c'], failed: [['a', 'path'], ['b', 'path']], now: 10, table: [['a', { failures: 2, retryAt: 2_010 }], ['b', { failures: 1, retryAt: 1_010 }]], later: ['a', 'b'], targetWide: 0 },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const d = nextPathBackoff(new Map(r.prev), { done: r.done, failed: r.failed.map(([path, scope]) => ({ path, scope })) }, r.now, top);
      assert.deepEqual([...d.table].sort(), r.table.sort());
      assert.deepEqual(d.later.map((l) => l.path), r.later);
      for (const l of d.later) assert.equal(l.retryAt, d.table.get(l.path)?.retryAt);
      assert.equal(d.targetWide, r.targetWide);
    });
  }

  it('jitter keeps the wait within [half, whole] of the ceiling', () => {
    const low = nextPathBackoff(new Map(), { done: [], failed: [{ path: 'f', scope: 'path' }] }, 0, () => 0);
    assert.equal(low.table.get('f')?.retryAt, 500);
  });
});
