/**
 * Which watcher a sync gets: the inotify binding by default when it is built, fs.watch when it
 * is not (with the reason in the one log line), fs.watch or nsfw when configured.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createWatcher } from './choose-watcher.ts';
import { DirWatcher } from './dir-watcher.ts';
import { loadInotifyBinding } from './inotify-binding.ts';
import { InotifyWatcher } from './inotify-watcher.ts';

const root = mkdtempSync(join(tmpdir(), 'si-choose-'));
const callbacks = { onHints: () => {}, onLost: () => {} };

describe('createWatcher', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('inotify (opt-in): the inotify binding when it is built', async (ctx) => {
    const loaded = loadInotifyBinding();
    if (!('binding' in loaded)) {
      if (process.env['CI'] === 'true') assert.fail(`the inotify binding is not built (${loaded.reason}); npm ci builds it`);
      return ctx.skip(loaded.reason);
    }
    const { watcher, which } = await createWatcher('inotify', root, callbacks, undefined);
    assert.ok(watcher instanceof InotifyWatcher);
    assert.equal(which, `watcher for ${root}: the inotify binding`);
    assert.doesNotMatch(which, /watching /, 'never mistaken for the readiness line');
  });

  it('inotify without the binding: fs.watch, and the line says why', async () => {
    process.env['SYNC_INOTIFY_NO_NATIVE'] = '1';
    try {
      const { watcher, which } = await createWatcher('inotify', root, callbacks, undefined);
      assert.ok(watcher instanceof DirWatcher);
      assert.match(which, /^watcher for .*: fs\.watch, because SYNC_INOTIFY_NO_NATIVE=1$/);
      // It really watches: start and stop cleanly.
      await watcher.start();
      await watcher.stop();
    } finally {
      delete process.env['SYNC_INOTIFY_NO_NATIVE'];
    }
  });

  it('native (the default): fs.watch even with the binding built', async () => {
    const { watcher, which } = await createWatcher('native', root, callbacks, undefined);
    assert.ok(watcher instanceof DirWatcher);
    assert.match(which, /fs\.watch \(watcher: native\)/);
  });

  it('fswatch: fs.watch even with the binding built', async () => {
    const { watcher, which } = await createWatcher('fswatch', root, callbacks, undefined);
    assert.ok(watcher instanceof DirWatcher);
    assert.match(which, /fs\.watch \(watcher: fswatch\)/);
  });
});
