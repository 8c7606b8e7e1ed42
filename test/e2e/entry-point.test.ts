/**
 * The two ways bin/sync-inotify.js starts the CLI: the bundle that `npm run build` writes
 * (dist/sync-inotify.cjs with its code cache, used when it is newer than every file under
 * src/), and the sources
 * through tsx (after an edit, or with SYNC_INOTIFY_FROM_SOURCE=1). Every other e2e test runs
 * whichever is current, which after `npm test`'s build is the bundle; these pin both.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT, packageVersion } from '../../src/cli/package-root.ts';
import { runCli } from './harness.ts';

const VERSION = packageVersion();

describe('entry points', () => {
  it('the bundle in dist/ runs the CLI on its own (no tsx, no src/), with the code cache the build wrote', () => {
    const loader = join(PACKAGE_ROOT, 'bin/bundle-loader.js');
    const bundle = join(PACKAGE_ROOT, 'dist/sync-inotify.cjs');
    const script = `const { loadBundle } = await import(${JSON.stringify(loader)}); const b = loadBundle(${JSON.stringify(bundle)}); console.error('code cache: ' + b.cache); process.exitCode = await b.main(['--version']);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
    // A cache V8 rejects (built by another Node) would silently cost every start ~50 ms.
    assert.match(r.stderr, /code cache: used/);
  });

  it('the bundle is ASCII (the loader reads it as latin1), and a start loads none of the modules only some configurations need', () => {
    const bundle = join(PACKAGE_ROOT, 'dist/sync-inotify.cjs');
    const bytes = readFileSync(bundle);
    const at = bytes.findIndex((b) => b > 0x7f);
    assert.equal(at, -1, `non-ASCII byte at offset ${at}: latin1 would misread it (see scripts/build.mjs)`);
    // ssh2 is bundled, but loading it requires cpu-features; mime-types and nsfw are required
    // from node_modules when loaded. None of them may be in the require cache after a start.
    const loader = join(PACKAGE_ROOT, 'bin/bundle-loader.js');
    const script = `const { loadBundle } = await import(${JSON.stringify(loader)}); const { createRequire } = await import('node:module'); const b = loadBundle(${JSON.stringify(bundle)}); await b.main(['--version']); console.log(JSON.stringify(Object.keys(createRequire(${JSON.stringify(bundle)}).cache)));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const loaded = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
    assert.ok(loaded.some((f) => f.includes('better-sqlite3')), `the probe sees required modules: ${loaded.join(', ')}`);
    const eager = loaded.filter((f) => /node_modules[\\/](nsfw|mime-types|mime-db|cpu-features|ssh2)[\\/]/.test(f));
    assert.deepEqual(eager, [], 'loaded at start though only some configurations need them');
  });

  it('SYNC_INOTIFY_FROM_SOURCE=1 runs the sources through tsx', async () => {
    const r = await runCli(['--version'], { env: { SYNC_INOTIFY_FROM_SOURCE: '1' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  });
});
