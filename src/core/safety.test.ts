import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Op } from './ops.ts';
import { checkSafety, parseMaxDelete, probeChanged, type GateCode, type SafetyInput, type SourceRootProbe } from './safety.ts';

const removes = (n: number): Op[] =>
  Array.from({ length: n }, (_, i) => ({ id: i + 1, kind: 'remove', path: `f${i}`, deps: [], known: { path: `f${i}`, kind: 'file', size: 1, mtimeMs: 1, ino: '1', recordedAtMs: 1 } }));
const mkdir: Op = { id: 1, kind: 'mkdir', path: 'd', deps: [], entry: { path: 'd', kind: 'dir', size: 0, mtimeMs: 0, ino: '9' } };

const fine: SourceRootProbe = { present: true, hasEntries: true, identity: '2049:12' };
const base: Omit<SafetyInput, 'ops'> = { source: fine, recordedIdentity: '2049:12', knownTotal: 100 };

describe('safety gates', () => {
  const cases: [name: string, input: SafetyInput, expected: GateCode | 'ok'][] = [
    ['ordinary deletes pass', { ...base, ops: removes(3) }, 'ok'],
    ['a plan without deletes always passes, even with the source gone', { ...base, ops: [mkdir], source: { present: false, hasEntries: false, identity: undefined } }, 'ok'],
    ['source root missing', { ...base, ops: removes(1), source: { present: false, hasEntries: false, identity: undefined } }, 'SOURCE_GONE'],
    ['source root empty while the target holds files', { ...base, ops: removes(100), source: { ...fine, hasEntries: false } }, 'SOURCE_EMPTY'],
    ['one delete is enough to trip the empty gate (a cycle over one vanished path)', { ...base, ops: removes(1), source: { ...fine, hasEntries: false } }, 'SOURCE_EMPTY'],
    ['empty source, empty store: nothing to protect', { ...base, ops: removes(1), knownTotal: 0, source: { ...fine, hasEntries: false } }, 'ok'],
    ['the last entries of a tiny tree removed: ordinary work', { ...base, ops: removes(3), knownTotal: 3, source: { ...fine, hasEntries: false } }, 'ok'],
    ['just above the tiny-tree size: guarded', { ...base, ops: removes(11), knownTotal: 11, source: { ...fine, hasEntries: false } }, 'SOURCE_EMPTY'],
    ['a tiny tree on a replaced root (an unmount): still guarded', { ...base, ops: removes(3), knownTotal: 3, source: { ...fine, hasEntries: false, identity: '2049:77' } }, 'SOURCE_REPLACED'],
    ['unmounted: a mount point with stale files of its own', { ...base, ops: removes(40), source: { ...fine, identity: '2049:77' } }, 'SOURCE_REPLACED'],
    ['first sync: no recorded identity yet', { ...base, ops: removes(3), recordedIdentity: undefined }, 'ok'],
    ['identity unknown now (stat raced)', { ...base, ops: removes(3), source: { ...fine, identity: undefined } }, 'ok'],
    ['maxDelete count exceeded', { ...base, ops: removes(11), maxDelete: { count: 10 } }, 'MAX_DELETE'],
    ['maxDelete count at the limit', { ...base, ops: removes(10), maxDelete: { count: 10 } }, 'ok'],
    ['maxDelete percent exceeded', { ...base, ops: removes(11), maxDelete: { percent: 10 } }, 'MAX_DELETE'],
    ['maxDelete percent at the limit', { ...base, ops: removes(10), maxDelete: { percent: 10 } }, 'ok'],
    ['the source gone wins over maxDelete', { ...base, ops: removes(50), maxDelete: { count: 1 }, source: { present: false, hasEntries: false, identity: undefined } }, 'SOURCE_GONE'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      const v = checkSafety(input);
      assert.equal(v.ok ? 'ok' : v.code, expected);
      if (!v.ok) assert.match(v.reason, /\d+/, 'the reason gives the count');
    });
  }

  it('a halted target plans again only when the source root changed', () => {
    assert.equal(probeChanged(fine, { ...fine }), false);
    assert.equal(probeChanged({ ...fine, hasEntries: false }, fine), true);
    assert.equal(probeChanged({ present: false, hasEntries: false, identity: undefined }, fine), true);
    assert.equal(probeChanged(fine, { ...fine, identity: '2049:13' }), true);
  });

  it('parses maxDelete', () => {
    assert.deepEqual(parseMaxDelete(5), { count: 5 });
    assert.deepEqual(parseMaxDelete('12.5%'), { percent: 12.5 });
    assert.deepEqual(parseMaxDelete('7'), { count: 7 });
    assert.equal(parseMaxDelete('lots'), undefined);
  });
});
