/**
 * One conformance suite for every target (rclone's habit). A backend test file calls
 * `describeConformance` with a fixture factory that starts (or reuses) a real server whose
 * storage is a local directory, so the suite can check bytes on disk directly.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, lstatSync, readlinkSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { TargetError } from '../../src/targets/errors.ts';
import type { PutSource, Target } from '../../src/targets/target.ts';

export interface ConformanceFixture {
  readonly target: Target;
  /** The directory on this machine that holds the target root's files. */
  readonly rootDir: string;
  /** A network target: the server's port on 127.0.0.1 and the connections the target may open. */
  readonly server?: { readonly port: number; readonly connections: number };
  /** The root's parent folder belongs to the fixture and may be removed (not /tmp itself). */
  readonly rootParentRemovable?: boolean;
  cleanup(): Promise<void>;
}

/** TCP connections from this machine to 127.0.0.1:`port` that are established (IPv4). */
function establishedTo(port: number): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => {
      const f = line.trim().split(/\s+/);
      return f[2]?.endsWith(hexPort) === true && f[3] === '01';
    }).length;
}

export function bufferSource(data: Buffer | string, mtimeMs = Date.UTC(2020, 0, 2, 3, 4, 5)): PutSource {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return { size: bytes.length, mtimeMs, open: () => Readable.from([bytes]) };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof TargetError, `expected a TargetError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** `setup` returns undefined when the server is missing (already reported by serverMissing). */
export function describeConformance(label: string, setup: () => Promise<ConformanceFixture | undefined>): void {
  describe(`target conformance: ${label}`, () => {
    let fx: ConformanceFixture | undefined;
    let n = 0;
    const fresh = (name: string) => `${name}-${++n}`;

    before(async () => {
      fx = await setup();
      if (fx) await fx.target.connect();
    });
    after(async () => {
      if (fx) {
        await fx.target.close();
        await fx.cleanup();
      }
    });

    const test = (name: string, body: (t: Target, root: string) => Promise<void>) =>
      it(name, async (ctx) => {
        if (!fx) return ctx.skip('server not available');
        await body(fx.target, fx.rootDir);
      });

    test('lists an empty directory', async (t) => {
      const d = fresh('empty');
      await t.mkdir(d);
      assert.deepEqual(await t.list(d), []);
    });

    test('put, stat and list a file; bytes are exact, no temp file is left', async (t, root) => {
      const d = fresh('put');
      await t.mkdir(d);
      const data = Buffer.from('hello\r\nworld\n\0binary');
      await t.put(`${d}/a.txt`, bufferSource(data), { tempPath: `${d}/.a.txt.tmp` });
      assert.deepEqual(readFileSync(join(root, d, 'a.txt')), data);
      const st = await t.stat(`${d}/a.txt`);
      assert.equal(st?.kind, 'file');
      assert.equal(st?.size, data.length);
      const names = (await t.list(d)).map((e) => e.path);
      assert.deepEqual(names, [`${d}/a.txt`]);
      assert.deepEqual(readdirSync(join(root, d)), ['a.txt']);
    });

    test('overwrites an existing file', async (t, root) => {
      const d = fresh('over');
      await t.mkdir(d);
      await t.put(`${d}/f`, bufferSource('first version, longer'), { tempPath: `${d}/.f.tmp` });
      await t.put(`${d}/f`, bufferSource('second'), { tempPath: `${d}/.f.tmp` });
      assert.equal(readFileSync(join(root, d, 'f'), 'utf8'), 'second');
    });

    test('nested mkdir, and mkdir is idempotent', async (t, root) => {
      const d = fresh('nest');
      await t.mkdir(d);
      await t.mkdir(`${d}/b`);
      await t.mkdir(`${d}/b/c`);
      await t.mkdir(`${d}/b/c`);
      assert.ok(lstatSync(join(root, d, 'b/c')).isDirectory());
      assert.equal((await t.stat(`${d}/b`))?.kind, 'dir');
    });

    test('zero-byte and multi-MiB files', async (t, root) => {
      const d = fresh('sizes');
      await t.mkdir(d);
      await t.put(`${d}/empty`, bufferSource(Buffer.alloc(0)), { tempPath: `${d}/.empty.tmp` });
      const big = Buffer.alloc(6 * 1024 * 1024 + 7);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
      await t.put(`${d}/big.bin`, bufferSource(big), { tempPath: `${d}/.big.tmp` });
      assert.equal(lstatSync(join(root, d, 'empty')).size, 0);
      assert.equal(sha256(readFileSync(join(root, d, 'big.bin'))), sha256(big));
      assert.equal((await t.stat(`${d}/big.bin`))?.size, big.length);
    });

    test('hostile names: spaces, quotes, #%?&+, accents, CJK, leading dash', async (t, root) => {
      const d = fresh('names');
      await t.mkdir(d);
      const names = ['with space', "qu'o\"te", '#%?&+ =;', 'accénts-ñ', '漢字かな', '-leading-dash', ' lead space'];
      for (const name of names) {
        await t.mkdir(`${d}/${name}.d`);
        await t.put(`${d}/${name}.d/${name}`, bufferSource(name), { tempPath: `${d}/${name}.d/.tmp` });
      }
      for (const name of names) {
        assert.equal(readFileSync(join(root, d, `${name}.d`, name), 'utf8'), name);
      }
      const listed = (await t.list(d)).map((e) => e.path).sort();
      assert.deepEqual(listed, names.map((n) => `${d}/${n}.d`).sort());
    });

    test('a newline in a name works or is refused as E_NAME', async (t, root) => {
      const d = fresh('newline');
      await t.mkdir(d);
      try {
        await t.put(`${d}/line\nbreak`, bufferSource('x'), { tempPath: `${d}/.nl.tmp` });
        assert.equal(readFileSync(join(root, d, 'line\nbreak'), 'utf8'), 'x');
      } catch (err) {
        assert.ok(err instanceof TargetError && err.code === 'E_NAME', `expected E_NAME, got ${String(err)}`);
      }
    });

    test('rename a file, rename over an existing file, rename a non-empty directory', async (t, root) => {
      if (!t.caps.rename || !t.rename) {
        assert.equal(t.rename, undefined, 'caps.rename is false but rename() exists');
        return;
      }
      const d = fresh('ren');
      await t.mkdir(d);
      await t.put(`${d}/a`, bufferSource('A'), { tempPath: `${d}/.a.tmp` });
      await t.put(`${d}/b`, bufferSource('B'), { tempPath: `${d}/.b.tmp` });
      await t.rename(`${d}/a`, `${d}/c`);
      assert.equal(readFileSync(join(root, d, 'c'), 'utf8'), 'A');
      assert.equal(existsSync(join(root, d, 'a')), false);
      await t.rename(`${d}/c`, `${d}/b`);
      assert.equal(readFileSync(join(root, d, 'b'), 'utf8'), 'A');
      assert.equal(existsSync(join(root, d, 'c')), false);
      await t.mkdir(`${d}/tree`);
      await t.mkdir(`${d}/tree/sub`);
      await t.put(`${d}/tree/sub/f`, bufferSource('F'), { tempPath: `${d}/tree/sub/.f.tmp` });
      await t.rename(`${d}/tree`, `${d}/moved`);
      assert.equal(readFileSync(join(root, d, 'moved/sub/f'), 'utf8'), 'F');
      assert.equal(existsSync(join(root, d, 'tree')), false);
    });

    test('put without a temp name writes the path in place (inside a staged directory)', async (t, root) => {
      const d = fresh('inplace');
      await t.mkdir(d);
      await t.put(`${d}/f`, bufferSource('in place'), {});
      await t.put(`${d}/empty`, bufferSource(''), {});
      assert.equal(readFileSync(join(root, d, 'f'), 'utf8'), 'in place');
      assert.deepEqual(readdirSync(join(root, d)).sort(), ['empty', 'f'], 'no other name was used');
    });

    test('a directory renamed onto an existing file or non-empty directory fails; nothing there is removed', async (t, root) => {
      if (!t.rename) return;
      const d = fresh('dirover');
      await t.mkdir(d);
      await t.mkdir(`${d}/staged`);
      await t.put(`${d}/staged/f`, bufferSource('new'), {});
      await t.put(`${d}/file`, bufferSource('theirs'), {});
      await assert.rejects(t.rename(`${d}/staged`, `${d}/file`), TargetError);
      assert.equal(readFileSync(join(root, d, 'file'), 'utf8'), 'theirs');
      await t.mkdir(`${d}/full`);
      await t.put(`${d}/full/g`, bufferSource('theirs too'), {});
      await assert.rejects(t.rename(`${d}/staged`, `${d}/full`), TargetError);
      assert.equal(readFileSync(join(root, d, 'full/g'), 'utf8'), 'theirs too');
      assert.equal(readFileSync(join(root, d, 'staged/f'), 'utf8'), 'new', 'the directory stays where it was');
    });

    test('remove, rmdir and mkdir are idempotent', async (t) => {
      const d = fresh('idem');
      await t.mkdir(d);
      await t.remove(`${d}/never-was`);
      await t.rmdir(`${d}/never-was-dir`);
      await t.put(`${d}/f`, bufferSource('x'), { tempPath: `${d}/.f.tmp` });
      await t.remove(`${d}/f`);
      await t.remove(`${d}/f`);
      assert.equal(await t.stat(`${d}/f`), undefined);
      await t.mkdir(`${d}/e`);
      await t.rmdir(`${d}/e`);
      await t.rmdir(`${d}/e`);
      assert.equal(await t.stat(`${d}/e`), undefined);
    });

    test('rmdir of a non-empty directory fails with E_NOT_EMPTY unless recursive', async (t, root) => {
      const d = fresh('rmd');
      await t.mkdir(d);
      await t.mkdir(`${d}/x`);
      await t.mkdir(`${d}/x/y`);
      await t.put(`${d}/x/y/f`, bufferSource('f'), { tempPath: `${d}/x/y/.f.tmp` });
      await expectCode(t.rmdir(`${d}/x`), 'E_NOT_EMPTY');
      await t.rmdir(`${d}/x`, { recursive: true });
      assert.equal(existsSync(join(root, d, 'x')), false);
    });

    test('missing paths: stat is undefined, list and rename fail with E_NOT_FOUND', async (t) => {
      const d = fresh('missing');
      assert.equal(await t.stat(`${d}/nope`), undefined);
      await expectCode(t.list(`${d}/nope`), 'E_NOT_FOUND');
      if (t.rename) await expectCode(t.rename(`${d}/nope`, `${d}/other`), 'E_NOT_FOUND');
    });

    test('parallel puts all land', async (t, root) => {
      const d = fresh('par');
      await t.mkdir(d);
      await Promise.all(
        Array.from({ length: 24 }, (_, i) => t.put(`${d}/f${i}`, bufferSource(`content ${i}`), { tempPath: `${d}/.f${i}.tmp` })),
      );
      for (let i = 0; i < 24; i++) assert.equal(readFileSync(join(root, d, `f${i}`), 'utf8'), `content ${i}`);
    });

    test('declared capabilities match behaviour (mtime, symlinks, hash)', async (t, root) => {
      const d = fresh('caps');
      await t.mkdir(d);
      const mtimeMs = Date.UTC(2021, 5, 6, 7, 8, 9);
      await t.put(`${d}/m`, bufferSource('mtime', mtimeMs), { tempPath: `${d}/.m.tmp` });
      const onDisk = lstatSync(join(root, d, 'm')).mtimeMs;
      if (t.caps.preservesMtime) {
        assert.ok(Math.abs(onDisk - mtimeMs) < 1000, `mtime ${onDisk} should be ${mtimeMs}`);
        const st = await t.stat(`${d}/m`);
        if (st?.mtimeMs !== undefined) assert.ok(Math.abs(st.mtimeMs - mtimeMs) < 1000);
      }
      if (t.caps.symlinks) {
        assert.ok(t.symlink, 'caps.symlinks but no symlink()');
        await t.symlink(`${d}/link`, 'm');
        assert.equal(readlinkSync(join(root, d, 'link')), 'm');
        assert.equal((await t.stat(`${d}/link`))?.kind, 'symlink');
      } else {
        assert.equal(t.symlink, undefined, 'symlink() exists but caps.symlinks is false');
      }
      if (t.caps.hash) {
        assert.ok(t.hash);
        assert.equal(await t.hash(`${d}/m`), sha256(Buffer.from('mtime')));
      }
    });

    test('close cuts connections still being opened: none is left behind', async (t) => {
      const server = fx?.server;
      if (server === undefined) return;
      assert.ok(t.prewarm, 'a network target prewarms');
      t.prewarm();
      await t.close();
      const deadline = Date.now() + 3_000;
      while (establishedTo(server.port) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(establishedTo(server.port), 0, 'a connection opened during close outlived it');
      await t.connect();
    });

    test('connect opens one connection; prewarm opens the others in the background', async (t) => {
      const server = fx?.server;
      if (server === undefined) {
        assert.equal(t.prewarm, undefined, 'a target without a server has nothing to prewarm');
        return;
      }
      assert.ok(t.prewarm, 'a network target prewarms');
      await t.close();
      await t.connect();
      const before = establishedTo(server.port);
      t.prewarm();
      const deadline = Date.now() + 10_000;
      while (establishedTo(server.port) < server.connections && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(before, 1, 'connect opened more than one connection');
      assert.equal(establishedTo(server.port), server.connections);
    });

    test('a root removed behind our back: stat("") and list("") say so; connect({rootExisted}) creates it again', async (t, root) => {
      await t.mkdir(fresh('doomed'));
      rmSync(root, { recursive: true, force: true });
      assert.equal(await t.stat(''), undefined);
      await expectCode(t.list(''), 'E_NOT_FOUND');
      await t.close();
      assert.deepEqual(await t.connect({ rootExisted: true }), { rootCreated: true });
      assert.ok(lstatSync(root).isDirectory());
      assert.deepEqual(await t.list(''), []);
      await t.close();
      assert.deepEqual(await t.connect({ rootExisted: true }), { rootCreated: false }, 'there now');
    });

    test('a root gone with its parent (an unmounted disk): connect({rootExisted}) waits (E_ROOT_GONE) and creates nothing', async (t, root) => {
      // Only where the root's parent is the fixture's own (not the system's temp folder).
      if (!fx?.rootParentRemovable) return;
      const parent = join(root, '..');
      rmSync(parent, { recursive: true, force: true });
      await t.close();
      await expectCode(t.connect({ rootExisted: true }), 'E_ROOT_GONE');
      assert.ok(!existsSync(parent), 'the parent was not created');
      await t.close();
      assert.deepEqual(await t.connect(), { rootCreated: true }, 'a first setup creates the missing parents');
      assert.ok(lstatSync(root).isDirectory());
    });
  });
}
