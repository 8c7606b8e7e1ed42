import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectGarbage } from './release-memory.ts';

describe('release-memory', () => {
  it('collects garbage an idle process would otherwise keep (heap used falls back)', () => {
    assert.equal(collectGarbage(), true, 'this runtime offers a full collection');
    const before = process.memoryUsage().heapUsed;
    // Garbage the size of a 100k-entry reconcile's maps, then nothing allocates.
    let junk: object[] | undefined = Array.from({ length: 300_000 }, (_, i) => ({ path: `s${i % 100}/t${i % 977}/g${i}`, size: i }));
    const grown = process.memoryUsage().heapUsed;
    assert.ok(grown - before > 10 * 2 ** 20, `the garbage took ${((grown - before) / 2 ** 20).toFixed(1)} MiB`);
    junk = undefined;
    assert.equal(junk, undefined);
    assert.equal(collectGarbage(), true);
    const after = process.memoryUsage().heapUsed;
    assert.ok(after - before < 5 * 2 ** 20, `heap used ${((after - before) / 2 ** 20).toFixed(1)} MiB above where it started`);
  });
});
