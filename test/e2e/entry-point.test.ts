/**
 * The two ways bin/sync-inotify.js starts the CLI: the bundle that `npm run build` writes
 * (dist/sync-inotify.mjs, used when it is newer than every file under src/), and the sources
 * through tsx (after an edit, or with SYNC_INOTIFY_FROM_SOURCE=1). Every other e2e test runs
 * whichever is current, which after `npm test`'s build is the bundle; these pin both.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT, packageVersion } from '../../src/cli/package-root.ts';
import { runCli } from './harness.ts';

const VERSION = packageVersion();

describe('entry points', () => {
  it('the bundle in dist/ runs the CLI on its own (no tsx, no src/)', () => {
    const bundle = join(PACKAGE_ROOT, 'dist/sync-inotify.mjs');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(bundle)}); process.exitCode = await main(['--version']);`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  });

  it('SYNC_INOTIFY_FROM_SOURCE=1 runs the sources through tsx', async () => {
    const r = await runCli(['--version'], { env: { SYNC_INOTIFY_FROM_SOURCE: '1' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  });
});
