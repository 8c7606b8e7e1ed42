import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ignore from 'ignore';
import { createPathFilter, EDITOR_LITTER, FILTER_CACHE_CHECKS, typeVerdict } from './filter.ts';

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
  it('keeps its verdicts across the rebuilds that bound its cache (a fresh matcher agrees on every path)', () => {
    const exclude = ['*.tmp', 'cache/', '/build', 'logs/**/*.log', '!keep.tmp'];
    const g = createPathFilter({ exclude, include: ['*.txt', 'keep.tmp'] });
    const names = ['a.txt', 'b.tmp', 'keep.tmp', 'x.log', 'n.swp', 'c.bin'];
    const dirs = ['', 'cache/', 'build/', 'logs/a/', 'sub/build/', 'sub/cache/x/'];
    let checked = 0;
    for (let i = 0; checked < 3 * FILTER_CACHE_CHECKS; i++) {
      const dir = dirs[i % dirs.length]!;
      const path = `${dir}d${i % 97}/${names[i % names.length]!}`;
      const freshEx = ignore().add([...exclude, ...EDITOR_LITTER]);
      const freshIn = ignore().add(['*.txt', 'keep.tmp']);
      const want = !path.split('/').slice(0, -1).some((_, k, parts) => freshEx.ignores(`${parts.slice(0, k + 1).join('/')}/`)) && !freshEx.ignores(path) && freshIn.ignores(path);
      // accepts() checks only the path itself; the scanner never descends into an excluded directory.
      const dirExcluded = path.split('/').slice(0, -1).some((_, k, parts) => !g.accepts(parts.slice(0, k + 1).join('/'), true));
      assert.equal(!dirExcluded && g.accepts(path, false), want, path);
      checked += 2;
    }
    assert.ok(g.matcherRebuilds() >= 2, `rebuilt ${g.matcherRebuilds()} times`);
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
