/**
 * Sparse files stay sparse on a local target (cp --sparse=auto's rule): through the real
 * CLI, a 64 MiB file holding two small extents of data arrives with the same bytes and about
 * as few blocks allocated; a file of zeros that is not sparse stays fully allocated.
 */
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, tempDir } from './harness.ts';

const t = tempDir('sparse');
after(() => t.cleanup());

const MiB = 1024 * 1024;

describe('sparse files on a local target', { timeout: 60_000 }, () => {
  it('a 64 MiB file with two small data extents: holes kept, bytes identical; a dense file of zeros stays dense', async (ctx) => {
    const src = join(t.path, 'src');
    const dst = join(t.path, 'dst');
    mkdirSync(src);
    const sparse = join(src, 'disk.img');
    const fd = openSync(sparse, 'w');
    writeSync(fd, Buffer.alloc(10_000, 'A'), 0, 10_000, 0);
    writeSync(fd, Buffer.alloc(5_000, 'B'), 0, 5_000, 40 * MiB + 123);
    ftruncateSync(fd, 64 * MiB);
    closeSync(fd);
    const srcSt = statSync(sparse);
    if (srcSt.blocks * 512 >= srcSt.size) return ctx.skip(`${t.path} keeps no holes`);
    writeFileSync(join(src, 'zeros.bin'), Buffer.alloc(2 * MiB));

    const r = await runCli(['once', src, dst, '--state', join(t.path, 'state.db')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);

    const got = statSync(join(dst, 'disk.img'));
    assert.equal(got.size, 64 * MiB);
    assert.ok(got.blocks * 512 <= 1 * MiB, `target allocates ${got.blocks * 512} bytes of ${got.size} (source: ${srcSt.blocks * 512})`);
    assert.ok(readFileSync(join(dst, 'disk.img')).equals(readFileSync(sparse)), 'bytes identical');

    const zeros = statSync(join(dst, 'zeros.bin'));
    assert.ok(zeros.blocks * 512 >= zeros.size, `a file without holes in the source stays fully allocated (${zeros.blocks * 512} of ${zeros.size})`);
    assert.ok(readFileSync(join(dst, 'zeros.bin')).equals(Buffer.alloc(2 * MiB)));
  });
});
