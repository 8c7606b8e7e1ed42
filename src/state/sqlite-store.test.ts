import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { KnownEntry } from '../core/entry.ts';
import Database from 'better-sqlite3';
import { migrate } from './migrations.ts';
import { SqliteStore } from './sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'si-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const e = (path: string, kind: KnownEntry['kind'] = 'file'): KnownEntry => ({ path, kind, size: 3, mtimeMs: 1.5, ino: '42', recordedAtMs: 9 });

describe('SqliteStore', () => {
  it('keeps entries per target across reopen', () => {
    const file = join(dir, 'a.db');
    let s = new SqliteStore(file);
    const t1 = s.targetId('src\nfile:///one');
    const t2 = s.targetId('src\nfile:///two');
    assert.notEqual(t1, t2);
    assert.equal(s.isNewTarget(t1), true);
    s.markTargetSeen(t1);
    s.upsert(t1, { ...e('a/b'), hash: 'h', linkTarget: undefined });
    s.upsert(t2, e('x'));
    s.close();
    s = new SqliteStore(file);
    assert.equal(s.targetId('src\nfile:///one'), t1);
    assert.equal(s.isNewTarget(t1), false);
    assert.deepEqual(s.get(t1, 'a/b'), { ...e('a/b'), hash: 'h' });
    assert.equal(s.get(t1, 'x'), undefined);
    assert.equal(s.count(t2), 1);
    s.close();
  });

  it('children: the entries directly in a directory, not deeper, not its neighbours', () => {
    const s = new SqliteStore(':memory:');
    const t = s.targetId('k');
    for (const p of ['a', 'a/x', 'a/y', 'a/y/z', 'a b', 'a b/q', 'ab', 'b']) s.upsert(t, e(p, p === 'a' || p === 'a/y' || p === 'a b' ? 'dir' : 'file'));
    const names = (dir: string) => s.children(t, dir).map((k) => k.path).sort();
    assert.deepEqual(names(''), ['a', 'a b', 'ab', 'b']);
    assert.deepEqual(names('a'), ['a/x', 'a/y']);
    assert.deepEqual(names('a/y'), ['a/y/z']);
    assert.deepEqual(names('ab'), []);
    s.close();
  });

  it('journals renames until they are settled, and a distrusted target is new again until seen', () => {
    const file = join(dir, 'renames.db');
    let s = new SqliteStore(file);
    const t = s.targetId('k');
    s.markTargetSeen(t);
    s.addRename(t, 'a', 'b');
    s.addRename(t, 'c/d', 'e');
    s.distrustTarget(t);
    s.close();
    s = new SqliteStore(file);
    assert.deepEqual(s.renames(t).sort((x, y) => x.to.localeCompare(y.to)), [{ from: 'a', to: 'b' }, { from: 'c/d', to: 'e' }]);
    assert.equal(s.isNewTarget(t), true);
    s.removeRename(t, 'b');
    assert.deepEqual(s.renames(t), [{ from: 'c/d', to: 'e' }]);
    s.markTargetSeen(t);
    assert.equal(s.isNewTarget(t), false);
    s.close();
  });

  it('subtree, deleteSubtree and moveSubtree respect path boundaries', () => {
    const s = new SqliteStore(join(dir, 'b.db'));
    const t = s.targetId('k');
    for (const p of ['a', 'a/x', 'a/y/z', 'a b', 'a-c', 'ab', 'b']) s.upsert(t, e(p, p.includes('/') ? 'file' : 'dir'));
    assert.deepEqual(s.subtree(t, 'a').map((x) => x.path).sort(), ['a', 'a/x', 'a/y/z']);
    s.upsert(t, e('c'));
    s.moveSubtree(t, 'a', 'c');
    assert.deepEqual(s.subtree(t, '').map((x) => x.path).sort(), ['a b', 'a-c', 'ab', 'b', 'c', 'c/x', 'c/y/z']);
    assert.equal(s.get(t, 'c')?.kind, 'dir', 'the moved entry replaced the old one');
    s.deleteSubtree(t, 'c');
    assert.deepEqual(s.subtree(t, '').map((x) => x.path).sort(), ['a b', 'a-c', 'ab', 'b']);
    s.close();
  });

  it('journals temp files', () => {
    const s = new SqliteStore(join(dir, 'c.db'));
    const t = s.targetId('k');
    s.addTemp(t, 'd/.f.sync-inotify-aaaaaa.tmp', 'd/f');
    s.addTemp(t, '.d.sync-inotify-bbbbbb.tmp', 'd', 'dir');
    assert.deepEqual(
      s.temps(t).sort((a, b) => a.path.localeCompare(b.path)),
      [
        { path: '.d.sync-inotify-bbbbbb.tmp', finalPath: 'd', kind: 'dir' },
        { path: 'd/.f.sync-inotify-aaaaaa.tmp', finalPath: 'd/f', kind: 'file' },
      ],
    );
    s.removeTemp(t, 'd/.f.sync-inotify-aaaaaa.tmp');
    s.removeTemp(t, '.d.sync-inotify-bbbbbb.tmp');
    assert.deepEqual(s.temps(t), []);
    s.close();
  });

  it('a state file of schema 2 keeps its journalled temps, as files', () => {
    const file = join(dir, 'v2.db');
    const old = new Database(file);
    migrate(old, 2);
    old.prepare('INSERT INTO targets (id, key) VALUES (1, ?)').run('k');
    old.prepare('INSERT INTO temps (target, path, final) VALUES (1, ?, ?)').run('d/.f.sync-inotify-aaaaaa.tmp', 'd/f');
    old.close();
    const s = new SqliteStore(file);
    assert.deepEqual(s.temps(s.targetId('k')), [{ path: 'd/.f.sync-inotify-aaaaaa.tmp', finalPath: 'd/f', kind: 'file' }]);
    s.close();
  });
});
