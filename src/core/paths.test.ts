import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareParentsFirst, isSafeRelativePath, sortParentsFirst } from './paths.ts';
import { needsContentHash, RACY_WINDOW_MS } from './entry.ts';

describe('isSafeRelativePath', () => {
  const cases: [string, boolean][] = [
    ['', true],
    ['a', true],
    ['a/b/c', true],
    ['.hidden', true],
    ['a/..b/c.', true],
    ['...', true],
    ['/a', false],
    ['a/', false],
    ['a//b', false],
    ['.', false],
    ['..', false],
    ['a/./b', false],
    ['a/../b', false],
    ['../a', false],
    ['a/..', false],
    ['a/b\0c', false],
  ];
  for (const [path, safe] of cases) it(`${JSON.stringify(path)} → ${safe}`, () => assert.equal(isSafeRelativePath(path), safe));

  it('agrees with the segment-by-segment definition on any path of /, ., NUL and letters', () => {
    const bySegments = (p: string) => p === '' || (!p.startsWith('/') && !p.endsWith('/') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\0')));
    fc.assert(fc.property(fc.stringMatching(/^[/.a\0]{0,8}$/), (p) => isSafeRelativePath(p) === bySegments(p)), { numRuns: 2000 });
  });
});

describe('needsContentHash (only racy records use the stored hash)', () => {
  const cases: [string, number, boolean][] = [
    ['written just now', 0, true],
    ['written 1.999 s before the send', RACY_WINDOW_MS - 1, true],
    ['written exactly the racy window before', RACY_WINDOW_MS, false],
    ['an old file', 86_400_000, false],
    ['mtime in the future (clock skew)', -5_000, true],
  ];
  for (const [name, age, expected] of cases) it(name, () => assert.equal(needsContentHash(1_000_000 - age, 1_000_000), expected));
});

describe('sortParentsFirst', () => {
  it('orders exactly as sorting with compareParentsFirst', () => {
    const segment = fc.constantFrom('a', 'b', 'a b', 'é', 'z0', '.x', 'A');
    const path = fc.array(segment, { minLength: 0, maxLength: 4 }).map((parts) => parts.join('/'));
    fc.assert(
      fc.property(fc.array(path, { maxLength: 40 }), (paths) => {
        assert.deepEqual(sortParentsFirst(paths, (p) => p), [...paths].sort(compareParentsFirst));
      }),
    );
  });
  it('sorts items by the path given for each, and leaves the input alone', () => {
    const items = [{ p: 'a/b' }, { p: '' }, { p: 'b' }, { p: 'a' }];
    assert.deepEqual(sortParentsFirst(items, (i) => i.p).map((i) => i.p), ['', 'a', 'b', 'a/b']);
    assert.deepEqual(items.map((i) => i.p), ['a/b', '', 'b', 'a']);
  });
});
