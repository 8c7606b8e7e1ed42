import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { KnownEntry } from '../core/entry.ts';
import Database from 'better-sqlite3';
import { migrate } from './migrations.ts';
import { fromDb, SqliteStore, toDb } from './sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'si-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const x = (byte: number) => String.fromCharCode(0xdc00 + byte);
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

  it('names that are not valid UTF-8 round trip, in entries, link texts and temps', () => {
    const s = new SqliteStore(join(dir, 'names.db'));
    const t = s.targetId('k');
    const names = [`bad${x(0xff)}name`, `dir${x(0xff)}/f`, `${x(0x80)}${x(0xe9)}`, 'real\ufffd', `real\ufffd${x(0xff)}`, '😀\ud83d\udc80'];
    for (const p of names) s.upsert(t, { ...e(p), linkTarget: `../${p}` });
    assert.equal(s.count(t), names.length, 'no two names collapsed into one');
    for (const p of names) assert.deepEqual(s.get(t, p), { ...e(p), linkTarget: `../${p}` });
    assert.equal(s.get(t, 'bad\ufffdname'), undefined, 'U+FFFD is not the escaped byte');
    s.addTemp(t, `dir${x(0xff)}/.f.sync-inotify-abc.tmp`, `dir${x(0xff)}/f`);
    assert.deepEqual(s.temps(t), [{ path: `dir${x(0xff)}/.f.sync-inotify-abc.tmp`, finalPath: `dir${x(0xff)}/f`, kind: 'file' }]);
    s.close();
  });

  it('subtree, moveSubtree and deleteSubtree on escaped and astral directory names', () => {
    const s = new SqliteStore(join(dir, 'names-move.db'));
    const t = s.targetId('k');
    const docs = 'docs';
    const bad = `docs${x(0xe9)}`;
    for (const p of [docs, `${docs}/a`, `${docs}/sub/b`, `${docs}${x(0xe9)}x`, 'docs0', 'docsé']) s.upsert(t, e(p, p.includes('/') ? 'file' : 'dir'));
    s.moveSubtree(t, docs, bad);
    assert.deepEqual(s.subtree(t, bad).map((y) => y.path).sort(), [bad, `${bad}/a`, `${bad}/sub/b`]);
    assert.deepEqual(s.subtree(t, docs), []);
    // Back to a name with a character of 4 UTF-8 bytes (two JS units, one SQLite character).
    s.moveSubtree(t, bad, '😀');
    assert.deepEqual(s.subtree(t, '😀').map((y) => y.path).sort(), ['😀', '😀/a', '😀/sub/b']);
    s.moveSubtree(t, '😀', `${x(0xff)}${x(0xfe)}/in`);
    assert.deepEqual(s.subtree(t, `${x(0xff)}${x(0xfe)}`).map((y) => y.path).sort(), [`${x(0xff)}${x(0xfe)}/in`, `${x(0xff)}${x(0xfe)}/in/a`, `${x(0xff)}${x(0xfe)}/in/sub/b`]);
    s.deleteSubtree(t, `${x(0xff)}${x(0xfe)}/in`);
    assert.deepEqual(s.subtree(t, '').map((y) => y.path).sort(), [`${docs}${x(0xe9)}x`, 'docs0', 'docsé'].sort());
    s.close();
  });

  it('toDb / fromDb: plain paths unchanged, escapes reversible', () => {
    assert.equal(toDb('a/é/😀'), 'a/é/😀');
    assert.equal(toDb(`a${x(0xff)}`), 'a\0ff');
    for (const p of [`a${x(0x80)}b${x(0xff)}`, 'a\ufffd', '\ud83d\udc80']) assert.equal(fromDb(toDb(p)), p);
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
