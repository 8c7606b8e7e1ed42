/**
 * rsync target specifics against the real daemon: the delta transfer (a 200 MiB file changed
 * in 1 MiB in the middle sends a small fraction of it, by rsync's own statistics), a batch
 * with per-path results (one path refused, the others land), a file changed during its
 * transfer, and settings refused with the key named. Plus table tests of the output parsing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TargetError } from '../../src/targets/errors.ts';
import { createTarget } from '../../src/targets/registry.ts';
import { matchItem, parseErrors, parseItemized, parseListing } from '../../src/targets/rsync/output.ts';
import type { RsyncTarget } from '../../src/targets/rsync/rsync-target.ts';
import { translateCall } from '../../src/targets/rsync/translate-error.ts';
import { startRsyncd, type RsyncdServer } from '../servers/rsyncd.ts';

describe('rsync output parsing', () => {
  it('itemized lines: sent files, directories, deletions; other lines ignored', () => {
    const out = Buffer.from('>f+++++++++ a/b c.txt\ncd+++++++++ dir/\n*deleting   gone\n.d          same/\ncreated directory x\nNumber of files: 3\n>f......... new\\#012line\n');
    assert.deepEqual(parseItemized(out).map((i) => i.path), ['a/b c.txt', 'dir', 'gone', 'same', 'new\nline']);
  });
  it('listings: kinds, grouped sizes, link targets, bytes that are not UTF-8', () => {
    const out = Buffer.concat([Buffer.from('drwxr-xr-x          4,096 2026/12/03 13:01:44 d\n-rw-r--r--      1,234,567 2026/12/03 13:01:17 d/f\nlrwxrwxrwx              9 2026/12/03 13:01:44 d/l -> ../x\n-rw-r--r--              1 2026/12/03 13:01:17 d/bad'), Buffer.of(0xff), Buffer.from('\n')]);
    const got = parseListing(out);
    assert.deepEqual(got.map((e) => [e.path, e.kind, e.size]), [['d', 'dir', 4096], ['d/f', 'file', 1234567], ['d/l', 'symlink', 9], ['d/bad\udcff', 'file', 1]]);
    assert.equal(got[2]!.linkTarget, '../x');
    assert.equal(got[1]!.mtimeMs, new Date(2026, 11, 3, 13, 1, 17).getTime());
  });
  it('error lines name their path (a temp name as its file), errno and side', () => {
    const errs = parseErrors(Buffer.from('rsync: [receiver] mkstemp "/srv/root/d/.f.AbC123" failed: Permission denied (13)\nrsync: [generator] recv_generator: mkdir "/srv/root/d/sub/made" failed: Too many levels of symbolic links (40)\nrsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]\n'));
    assert.deepEqual(errs.map((e) => [e.quoted, e.errno, e.role]), [['/srv/root/d/f', 13, 'receiver'], ['/srv/root/d/sub/made', 40, 'generator']]);
    assert.equal(matchItem('/srv/root/d/f', ['f', 'd/f', 'x']), 1, 'the longest item path the printed one ends with');
    assert.equal(matchItem('/srv/root/xd/f', ['d/f']), -1, 'only at a / boundary');
  });
  it('whole-call failures: one table', () => {
    const cases: [number, string, string][] = [
      [5, '@ERROR: auth failed on module site', 'E_AUTH'],
      [255, 'Host key verification failed.', 'E_HOST_KEY'],
      [255, 'root@127.0.0.1: Permission denied (publickey).', 'E_AUTH'],
      [10, 'rsync: failed to connect to 127.0.0.1 (127.0.0.1): Connection refused (111)', 'E_CONNECTION'],
      [5, '@ERROR: Unknown module \'nope\'', 'E_CONFIG'],
      [30, 'rsync error: timeout in data send/receive (code 30)', 'E_TIMEOUT'],
      [11, 'rsync: write failed on "/x": No space left on device (28)', 'E_NO_SPACE'],
      [12, 'rsync: connection unexpectedly closed', 'E_CONNECTION'],
    ];
    for (const [exit, text, code] of cases) assert.equal(translateCall(exit, text, 'x').code, code, text);
  });
});

describe('rsync target settings', () => {
  it('keys of the other transport are refused, naming the key and the fix', () => {
    assert.throws(() => createTarget({ url: 'rsync://u@127.0.0.1:1/site/x', identityFile: '/k' }), (e: unknown) => e instanceof TargetError && e.code === 'E_CONFIG' && /identityFile.*rsync\+ssh/.test(e.message));
    assert.throws(() => createTarget({ url: 'rsync+ssh://u@127.0.0.1:1/x', password: 'p' }), (e: unknown) => e instanceof TargetError && e.code === 'E_CONFIG' && /password/.test(e.message) && !e.message.includes(': p'));
    assert.throws(() => createTarget({ url: 'rsync://u@127.0.0.1:1/' }), (e: unknown) => e instanceof TargetError && /no module/.test(e.message));
  });
});

describe('rsync target against a daemon', { concurrency: 1 }, () => {
  let srv: RsyncdServer | undefined;
  let src: string;
  before(async () => {
    srv = await startRsyncd();
    src = mkdtempSync(join(tmpdir(), 'si-rsync-src-'));
  });
  after(async () => {
    await srv?.cleanup();
    rmSync(src, { recursive: true, force: true });
  });

  it('a 200 MiB file changed in 1 MiB in the middle: rsync sends a small fraction of it (delta transfer)', async (ctx) => {
    if (!srv) return ctx.skip('rsync daemon not available');
    mkdirSync(join(srv.moduleDir, 'delta'));
    const t = createTarget({ url: srv.url('delta'), password: srv.password }) as RsyncTarget;
    await t.connect();
    try {
      const MiB = 1024 * 1024;
      const file = join(src, 'big.bin');
      const fd = openSync(file, 'w');
      const chunk = randomBytes(4 * MiB);
      for (let i = 0; i < 50; i++) writeSync(fd, chunk.subarray(0, 4 * MiB - i), null); // no two chunks alike in place
      closeSync(fd);
      const size = readFileSync(file).length;
      let [r] = await t.applyBatch({ sourceRoot: src, items: [{ kind: 'put', path: 'big.bin', size, replaces: false }] });
      assert.deepEqual(r, { ok: true });
      const first = { ...t.wire };
      assert.ok(first.literalBytes >= size * 0.99, `the first push sends it whole: ${first.literalBytes}`);
      const w = openSync(file, 'r+');
      writeSync(w, randomBytes(MiB), 0, MiB, Math.floor(size / 2));
      closeSync(w);
      [r] = await t.applyBatch({ sourceRoot: src, items: [{ kind: 'put', path: 'big.bin', size, replaces: true }] });
      assert.deepEqual(r, { ok: true });
      const literal = t.wire.literalBytes - first.literalBytes;
      const sent = t.wire.sentBytes - first.sentBytes;
      ctx.diagnostic(`second push: ${sent} bytes sent, ${literal} literal, of ${size}`);
      assert.ok(literal < 3 * MiB, `literal data ${literal} should be about the changed MiB`);
      assert.ok(sent < size / 20, `bytes sent ${sent} should be a small fraction of ${size}`);
      assert.ok(readFileSync(join(srv.moduleDir, 'delta', 'big.bin')).equals(readFileSync(file)), 'the copy is exact');
    } finally {
      await t.close();
    }
  });

  it('one batch, per-path results: a refused path fails alone, the others land, a vanished source is not claimed', async (ctx) => {
    if (!srv) return ctx.skip('rsync daemon not available');
    const dst = join(srv.moduleDir, 'perpath');
    mkdirSync(join(dst, 'locked'), { recursive: true });
    chmodSync(join(dst, 'locked'), 0o555);
    const t = createTarget({ url: srv.url('perpath'), password: srv.password });
    await t.connect();
    try {
      mkdirSync(join(src, 'locked'), { recursive: true });
      writeFileSync(join(src, 'ok1'), 'one');
      writeFileSync(join(src, 'locked', 'no'), 'refused');
      writeFileSync(join(src, 'ok2'), 'two');
      const results = await t.applyBatch!({ sourceRoot: src, items: ['ok1', 'locked/no', 'ok2', 'never-there'].map((path) => ({ kind: 'put' as const, path, size: 3, replaces: false })) });
      assert.deepEqual(results[0], { ok: true });
      assert.deepEqual(results[2], { ok: true });
      if (process.getuid?.() !== 0) {
        assert.equal(results[1]!.ok, false);
        if (!results[1]!.ok) assert.equal(results[1]!.error.code, 'E_PERMISSION');
      }
      assert.equal(results[3]!.ok, false, 'a path rsync did not report is not claimed as sent');
      assert.equal(readFileSync(join(dst, 'ok2'), 'utf8'), 'two');
    } finally {
      chmodSync(join(dst, 'locked'), 0o755);
      await t.close();
    }
  });

  // Runs last: it stops and starts the daemon.
  it('a call that failed with the server (killed mid-transfer): the temp files its receiver may have left are swept before the next call, and only those', async (ctx) => {
    if (!srv) return ctx.skip('rsync daemon not available');
    const dst = join(srv.moduleDir, 'sweep');
    mkdirSync(join(dst, 'd'), { recursive: true });
    mkdirSync(join(src, 'd'), { recursive: true });
    for (const f of ['f1', 'f2', 'late']) writeFileSync(join(src, 'd', f), `${f}\n`);
    const t = createTarget({ url: srv.url('sweep'), password: srv.password, timeoutMs: 5000 });
    await t.connect();
    try {
      await srv.stop();
      await assert.rejects(t.applyBatch!({ sourceRoot: src, items: ['d/f1', 'd/f2'].map((path) => ({ kind: 'put' as const, path, size: 3, replaces: false })) }), (e: unknown) => e instanceof TargetError && e.code === 'E_CONNECTION');
      // What a receiver killed with SIGKILL mid-write leaves (rsync's mkstemp names), and names
      // that only look alike: another file's temp, a name of ours that is not a temp form.
      const left = ['.f1.AbC123', '.f2.zz9ZZ9'];
      const kept = ['.late.AbC123', '.f1.toolong1', 'f1.AbC123', '.f1.AbC12'];
      for (const name of [...left, ...kept]) writeFileSync(join(dst, 'd', name), 'partial');
      await srv.start();
      const [r] = await t.applyBatch!({ sourceRoot: src, items: [{ kind: 'put', path: 'd/late', size: 5, replaces: false }] });
      assert.deepEqual(r, { ok: true });
      assert.deepEqual(readdirSync(join(dst, 'd')).sort(), [...kept, 'late'].sort(), 'the two temps of the failed call are gone, nothing else');
    } finally {
      await t.close();
    }
  });
});
