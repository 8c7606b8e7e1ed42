import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TargetError } from './errors.ts';
import { assertSafePath, linkInPathError, TickShared, underRoot } from './jail.ts';

describe('jail: paths at the target boundary', () => {
  const refused = ['..', '../x', 'a/..', 'a/../b', 'a/../../etc', '.', './a', 'a/./b', '/a', 'a/', 'a//b', 'a\0b'];
  for (const path of refused) {
    it(`refuses ${JSON.stringify(path)} with E_NAME`, () => {
      assert.throws(
        () => assertSafePath(path),
        (err: unknown) => err instanceof TargetError && err.code === 'E_NAME' && err.scope === 'path' && err.path === path,
      );
    });
  }
  const allowed = ['', 'a', 'a/b', '..a', 'a..', 'a/.b', '...', 'a/..b/c', ' space', '.sync-inotify.tmp'];
  for (const path of allowed) it(`allows ${JSON.stringify(path)}`, () => assertSafePath(path));

  const joined: Array<[string, string, string]> = [
    ['/srv/www', '', '/srv/www'],
    ['/srv/www', 'a/b', '/srv/www/a/b'],
    ['/', '', '/'],
    ['/', 'a', '/a'],
  ];
  for (const [root, path, abs] of joined) it(`underRoot(${root}, ${JSON.stringify(path)}) is ${abs}`, () => assert.equal(underRoot(root, path), abs));
});

describe('jail: E_LINK_IN_PATH', () => {
  it('is a per-path error that names the link and where it leads', () => {
    const err = linkInPathError('put', 'a/b/f', 'a/b', '/etc');
    assert.equal(err.code, 'E_LINK_IN_PATH');
    assert.equal(err.scope, 'path');
    assert.equal(err.path, 'a/b/f');
    assert.match(err.message, /^put "a\/b\/f": "a\/b" is a symbolic link on the target \(it leads to "\/etc"\)/);
  });
  it('says "a directory on its way" when the link could not be named', () => {
    assert.match(linkInPathError('mkdir', 'x/y', undefined).message, /^mkdir "x\/y": a directory on its way is a symbolic link/);
    assert.match(linkInPathError('put', 'x/y/f', undefined, '/elsewhere', 'x/y').message, /^put "x\/y\/f": "x\/y" or a directory above it is a symbolic link on the target \(it leads to "\/elsewhere"\)/);
  });
});

describe('jail: checks shared within one tick', () => {
  it('callers of the same tick share one promise per key; a later tick asks again', async () => {
    const shared = new TickShared<number>();
    let made = 0;
    const make = () => Promise.resolve(++made);
    const a = shared.get('d', make);
    const b = shared.get('d', make);
    const c = shared.get('e', make);
    assert.equal(a, b);
    assert.notEqual(a, c);
    assert.deepEqual(await Promise.all([a, b, c]), [1, 1, 2]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await shared.get('d', make), 3);
  });
});
