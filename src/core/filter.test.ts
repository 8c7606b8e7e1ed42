import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPathFilter, typeVerdict } from './filter.ts';

describe('path filter (gitignore dialect)', () => {
  const f = createPathFilter({ exclude: ['*.tmp', 'cache/', '/build', 'logs/**/*.log', '!keep.tmp'], alwaysExcluded: ['state.db'] });
  const cases: [string, boolean, boolean][] = [
    ['a.txt', false, true],
    ['deep/x.tmp', false, false],
    ['keep.tmp', false, true],
    ['cache', true, false],
    ['cache', false, true], // 'cache/' only matches directories
    ['sub/cache', true, false],
    ['build', true, false],
    ['sub/build', true, true],
    ['logs/a/b.log', false, false],
    ['state.db', false, false],
    ['.f.txt.sync-inotify-abc123.tmp', false, false],
    ['file.swp', false, false],
    ['4913', false, false],
    ['notes~', false, false],
    ['.#lock', false, false],
  ];
  for (const [path, isDir, expected] of cases) {
    it(`${isDir ? 'dir' : 'file'} ${path} → ${expected ? 'mirrored' : 'skipped'}`, () => assert.equal(f.accepts(path, isDir), expected));
  }
  it('include keeps only matching files but walks every directory', () => {
    const g = createPathFilter({ include: ['*.html', 'img/**'] });
    assert.equal(g.accepts('a/index.html', false), true);
    assert.equal(g.accepts('a/style.css', false), false);
    assert.equal(g.accepts('img/x/y.bin', false), true);
    assert.equal(g.accepts('anything', true), true);
  });
  it('editor litter can be mirrored when asked', () => {
    assert.equal(createPathFilter({ ignoreEditorFiles: false }).accepts('x.swp', false), true);
  });
});

describe('type filter (the original FILE_TYPES / FILE_EXTENSIONS rule)', () => {
  const cases: { name: string; types?: string[]; exts?: string[]; path: string; sniffed?: string; byExt?: string; ok: boolean }[] = [
    { name: 'sniffed type allowed', types: ['image'], path: 'a.bin', sniffed: 'image', ok: true },
    { name: 'sniffed type wins over a misleading extension', types: ['image'], path: 'a.jpg', sniffed: 'application', ok: false },
    { name: 'sniff failed: extension list decides', types: ['image'], exts: ['jpg'], path: 'a.JPG', ok: true },
    { name: 'sniff failed, no extension list: the extension type decides', types: ['image'], path: 'x.svg', byExt: 'image', ok: true },
    { name: 'sniff failed, unknown extension', types: ['image'], path: 'x.zzz', ok: false },
    { name: 'only extensions', exts: ['css', '.js'], path: 'a/b.js', sniffed: 'text', ok: true },
    { name: 'only extensions, not listed', exts: ['css'], path: 'a/b.html', sniffed: 'text', ok: false },
    { name: 'no filter', path: 'x', ok: true },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(typeVerdict({ fileTypes: c.types, extensions: c.exts }, c.path, c.sniffed, c.byExt), c.ok));
  }
});
