import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { LocalEntry } from './entry.ts';
import { adoptionRecords } from './adopt.ts';

it('adopts matching remote entries only', () => {
  const local = new Map<string, LocalEntry>([
    ['d', { path: 'd', kind: 'dir', size: 0, mtimeMs: 0, ino: '1' }],
    ['d/same', { path: 'd/same', kind: 'file', size: 5, mtimeMs: 1_700_000_000_500, ino: '2' }],
    ['d/size', { path: 'd/size', kind: 'file', size: 5, mtimeMs: 1_700_000_000_000, ino: '3' }],
    ['d/old', { path: 'd/old', kind: 'file', size: 5, mtimeMs: 1_700_000_000_000, ino: '4' }],
    ['d/kind', { path: 'd/kind', kind: 'dir', size: 0, mtimeMs: 0, ino: '5' }],
  ]);
  const remote = [
    { path: 'd', kind: 'dir' as const, size: 0 },
    { path: 'd/same', kind: 'file' as const, size: 5, mtimeMs: 1_700_000_000_000 },
    { path: 'd/size', kind: 'file' as const, size: 6, mtimeMs: 1_700_000_000_000 },
    { path: 'd/old', kind: 'file' as const, size: 5, mtimeMs: 1_600_000_000_000 },
    { path: 'd/kind', kind: 'file' as const, size: 0 },
    { path: 'd/extra', kind: 'file' as const, size: 1 },
  ];
  assert.deepEqual(adoptionRecords(local, remote, true, 9).map((e) => e.path), ['d', 'd/same']);
  assert.deepEqual(adoptionRecords(local, remote, false, 9).map((e) => e.path), ['d', 'd/same', 'd/old']);
});
