import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RemoteFacts } from './adopt.ts';
import { findDrift } from './drift.ts';
import { uncertainDir, uncertainFile, type KnownEntry } from './entry.ts';

const file = (path: string, size = 5, mtimeMs = 1_700_000_000_500): KnownEntry => ({ path, kind: 'file', size, mtimeMs, ino: '1', recordedAtMs: 1e13 });
const dir = (path: string): KnownEntry => ({ path, kind: 'dir', size: 0, mtimeMs: 0, ino: '2', recordedAtMs: 1e13 });
const link = (path: string, to: string): KnownEntry => ({ path, kind: 'symlink', size: 0, mtimeMs: 0, ino: '3', linkTarget: to, recordedAtMs: 1e13 });
const rfile = (path: string, size = 5, mtimeMs?: number): RemoteFacts => ({ path, kind: 'file', size, ...(mtimeMs !== undefined ? { mtimeMs } : {}) });
const rdir = (path: string): RemoteFacts => ({ path, kind: 'dir', size: 0 });

describe('findDrift()', () => {
  const cases: { name: string; records: KnownEntry[]; remote: RemoteFacts[]; listed: string[]; mtime?: boolean; drift: string[] }[] = [
    { name: 'all there', records: [dir('a'), file('a/f'), file('g')], remote: [rdir('a'), rfile('a/f'), rfile('g')], listed: ['', 'a'], drift: [] },
    { name: 'a file deleted on the target', records: [file('f'), file('g')], remote: [rfile('g')], listed: [''], drift: ['missing f'] },
    { name: 'a directory deleted on the target: only the directory is named', records: [dir('a'), file('a/f')], remote: [], listed: [''], drift: ['missing a'] },
    { name: 'records under directories not listed are not judged', records: [dir('a'), file('a/f')], remote: [rdir('a')], listed: [''], drift: [] },
    { name: 'a file rewritten on the target (size)', records: [file('f', 5)], remote: [rfile('f', 9)], listed: [''], drift: ['changed f'] },
    { name: 'a file touched on the target (mtime, where kept)', records: [file('f')], remote: [rfile('f', 5, 1_700_000_100_000)], listed: [''], mtime: true, drift: ['changed f'] },
    { name: 'mtime rounded to the second by the server: same', records: [file('f')], remote: [rfile('f', 5, 1_700_000_000_000)], listed: [''], mtime: true, drift: [] },
    { name: 'mtime not compared where the target does not keep it', records: [file('f')], remote: [rfile('f', 5, 1_700_000_100_000)], listed: [''], mtime: false, drift: [] },
    { name: 'a directory where a file was', records: [file('x')], remote: [rdir('x')], listed: [''], drift: ['missing x'] },
    { name: 'a symlink retargeted on the target', records: [link('l', 'a')], remote: [{ path: 'l', kind: 'symlink', size: 0, linkTarget: 'b' }], listed: [''], drift: ['missing l'] },
    { name: 'extras and temp files on the target are not drift', records: [file('f')], remote: [rfile('f'), rfile('extra'), rfile('.f.sync-inotify-abc123.tmp')], listed: [''], drift: [] },
    { name: 'uncertain records are left to the plan', records: [uncertainDir('d'), uncertainFile('u'), uncertainFile('v')], remote: [rfile('v', 3)], listed: [''], drift: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const drift = findDrift(c.records, new Map(c.remote.map((r) => [r.path, r])), new Set(c.listed), c.mtime ?? false);
      assert.deepEqual(
        drift.map((d) => `${d.kind} ${d.path}`),
        c.drift,
      );
    });
  }
});
