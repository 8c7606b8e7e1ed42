import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteStore } from './sqlite-store.ts';
import { readStateSummary } from './summary.ts';

describe('readStateSummary (status while not running)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'summary-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('counts what each target holds, per source, and journalled temps', () => {
    const path = join(dir, 'state.db');
    const store = new SqliteStore(path);
    const id = store.targetId('/src\nftp://host/x');
    store.transaction(() => {
      store.upsert(id, { path: 'd', kind: 'dir', size: 0, mtimeMs: 0, ino: '1', recordedAtMs: 1000 });
      store.upsert(id, { path: 'd/f', kind: 'file', size: 7, mtimeMs: 0, ino: '2', recordedAtMs: 2000 });
      store.upsert(id, { path: 'l', kind: 'symlink', size: 0, mtimeMs: 0, ino: '3', linkTarget: 'd', recordedAtMs: 1500 });
      store.addTemp(id, '.f.tmp', 'f');
    });
    store.close();
    const r = readStateSummary(path);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.targets, [{ source: '/src', target: 'ftp://host/x', files: 1, dirs: 1, symlinks: 1, bytes: 7, lastRecordedAt: new Date(2000).toISOString(), tempFiles: 1 }]);
  });

  it('a missing file is reported as none yet, not created', () => {
    const r = readStateSummary(join(dir, 'nope.db'));
    assert.deepEqual(r, { path: join(dir, 'nope.db'), exists: false, targets: [] });
  });
});
