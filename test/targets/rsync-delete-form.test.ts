/**
 * The rsync target's deletes in lsyncd's include-filter form: the fallback for receivers that
 * break `--delete-missing-args` with `--files-from` (RsyncProject/rsync issue 910).
 *   - Detection, over SSH: the remote rsync is a wrapper (`--rsync-path`) that refuses
 *     `--delete-missing-args` the way such a build fails ("invalid file mode") and runs the
 *     real rsync otherwise. The first delete probes once, and every delete then takes the
 *     filter form and removes exactly what it was asked to.
 *   - The filter form forced (`deleteForm: 'filter'`) against the real daemon: the same
 *     deletes, with names that are patterns in a filter rule (`*`, `?`, `[`), siblings whose
 *     names those patterns would match, a non-empty directory that must stay (E_NOT_EMPTY),
 *     a recursive rmdir, and a path already gone.
 * One server per transport for the whole file.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TargetError } from '../../src/targets/errors.ts';
import { RsyncTarget } from '../../src/targets/rsync/rsync-target.ts';
import { daemonTransport, sshTransport } from '../../src/targets/rsync/transport.ts';
import { startRsyncd, type RsyncdServer } from '../servers/rsyncd.ts';
import { startSshd, type SshdServer } from '../servers/sshd.ts';

const work = mkdtempSync(join(tmpdir(), 'si-rsync-delete-form-'));
let rsyncd: RsyncdServer | undefined;
let sshd: SshdServer | undefined;
after(async () => {
  await rsyncd?.cleanup();
  await sshd?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** The tree on the server's disk before the deletes. */
function seed(root: string): void {
  const files = ['a', 'keep', 'x*', 'xa', 'x?', 'xb', '[ab]', 'b', 'with space', 'd/f', 'd/sub/g', 'd/sub/deep/h', 'theirs/file', 'dkeep/f'];
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), f);
  }
  mkdirSync(join(root, 'empty'));
}

/** Every path under `root`, sorted. */
function tree(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    out.push(e.isDirectory() ? `${p}/` : p);
    if (e.isDirectory()) out.push(...tree(root, p));
  }
  return out.sort();
}

/** The deletes and what must be left: patterns delete only their own name. */
async function deletes(t: RsyncTarget, root: string): Promise<void> {
  const results = await t.applyBatch({
    sourceRoot: work,
    items: [
      { kind: 'remove', path: 'a' },
      { kind: 'remove', path: 'x*' },
      { kind: 'remove', path: 'x?' },
      { kind: 'remove', path: '[ab]' },
      { kind: 'remove', path: 'with space' },
      { kind: 'remove', path: 'gone-already' },
      { kind: 'rmdir', path: 'd/sub', recursive: true },
      { kind: 'rmdir', path: 'empty', recursive: false },
    ],
  });
  assert.deepEqual(
    results.map((r) => r.ok),
    results.map(() => true),
    JSON.stringify(results.map((r) => (r.ok ? 'ok' : r.error.message))),
  );
  // A directory holding a file we are not removing stays, with the error that says so.
  await assert.rejects(t.rmdir('theirs'), (e: unknown) => e instanceof TargetError && e.code === 'E_NOT_EMPTY');
  // A second batch: single calls go the same way.
  await t.remove('dkeep/f');
  await t.rmdir('dkeep');
  assert.deepEqual(tree(root), ['b', 'd/', 'd/f', 'keep', 'theirs/', 'theirs/file', 'xa', 'xb']);
}

describe('rsync deletes in the include-filter form (RsyncProject/rsync issue 910)', { concurrency: 1 }, () => {
  it('detected over SSH: a receiver that refuses --delete-missing-args is probed once, and deletes take the filter form', async (ctx) => {
    sshd = await startSshd();
    if (!sshd) return ctx.skip('sshd not available');
    const root = join(work, 'ssh-root');
    seed(root);
    // The remote rsync: fails like a broken build on --delete-missing-args, the real one otherwise.
    const refusals = join(work, 'refusals');
    const shim = join(work, 'rsync-910');
    writeFileSync(
      shim,
      ['#!/bin/sh', 'for a in "$@"; do', '  if [ "$a" = "--delete-missing-args" ]; then', `    echo refused >> '${refusals}'`, "    echo 'rsync: [receiver] invalid file mode 0 for missing arg (simulated issue 910)' >&2", '    exit 2', '  fi', 'done', 'exec /usr/bin/rsync "$@"', ''].join('\n'),
      { mode: 0o755 },
    );
    const srv = sshd;
    const t = new RsyncTarget({
      url: `rsync+ssh://${srv.user}@127.0.0.1:${srv.port}${root}`,
      timeoutMs: 30_000,
      transport: (runner) => {
        const base = sshTransport({ host: '127.0.0.1', port: srv.port, user: srv.user, path: root, identityFile: srv.clientKey, knownHosts: srv.knownHosts, hostKey: undefined, timeoutMs: 30_000, shell: true }, runner);
        return { ...base, args: () => [...base.args(), `--rsync-path=${shim}`] };
      },
    });
    await t.connect();
    try {
      await deletes(t, root);
      assert.equal(readFileSync(refusals, 'utf8'), 'refused\n', 'one probe met the refusal; no delete sent --delete-missing-args after it');
    } finally {
      await t.close();
    }
  });

  it('forced against the real daemon: the filter form removes exactly the paths asked, patterns in names included', async (ctx) => {
    rsyncd = await startRsyncd();
    if (!rsyncd) return ctx.skip('rsync daemon not available');
    const root = join(rsyncd.moduleDir, 'filter-form');
    seed(root);
    const srv = rsyncd;
    const t = new RsyncTarget({
      url: srv.url('filter-form'),
      timeoutMs: 30_000,
      deleteForm: 'filter',
      transport: () => daemonTransport({ host: '127.0.0.1', port: srv.port, user: srv.user, password: srv.password, path: 'site/filter-form', timeoutMs: 30_000 }),
    });
    await t.connect();
    try {
      await deletes(t, root);
      assert.ok(existsSync(join(root, 'theirs', 'file')));
    } finally {
      await t.close();
    }
  });
});
