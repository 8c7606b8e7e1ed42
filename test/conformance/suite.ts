/**
 * One conformance suite for every target (rclone's habit). A backend's conformance file calls
 * `describeConformance` with a fixture factory that starts (or reuses) a real server and
 * builds the target through the registry, from a URL and options as a user writes them
 * (`createTarget`). The suite checks what the server holds through the fixture's `readBack`:
 * files on this machine's disk when the server stores plain files (`diskReadBack`), else a
 * second client of the server's own protocol (S3: test/helpers/s3-view.ts). Cases that tamper
 * with the storage behind the server's back (a link planted below the root, the root removed)
 * need `disk` and are left out without it.
 *
 * Capability honesty: an optional method a target has must work (never E_UNSUPPORTED), and
 * what the target declares (`caps`) must show in what the server holds; capabilities.ts
 * derives rename/symlinks/hash from the methods, so nothing absent can be claimed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, lstatSync, readlinkSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { decodeName, decodeNames, toFsPath } from '../../src/core/names.ts';
import { capabilitiesOf } from '../../src/targets/capabilities.ts';
import { TargetError } from '../../src/targets/errors.ts';
import type { PutSource, RemoteEntry, Target } from '../../src/targets/target.ts';
import { expectCode } from '../helpers/expect-code.ts';

/**
 * What the target holds, read without the target under test: from disk when the server
 * stores plain files, else through the server's own protocol with a separate client (S3).
 * Paths are relative to the target root (names may hold escaped bytes, core/names.ts).
 */
export interface ReadBack {
  /** The bytes of a file; undefined when there is none. */
  read(path: string): Promise<Buffer | undefined>;
  /** Names directly in a directory (files and directories), sorted. */
  names(dir: string): Promise<string[]>;
  /** A file or directory is there. */
  exists(path: string): Promise<boolean>;
  isDir(path: string): Promise<boolean>;
  /** The modification time the server keeps for a file. */
  mtimeMs(path: string): Promise<number>;
  /** What a symbolic link points at (needed when the target has `symlink`). */
  linkTarget?(path: string): Promise<string | undefined>;
}

/** The read-back of a target whose root is a directory on this machine. */
export function diskReadBack(rootDir: string): ReadBack {
  const at = (path: string) => toFsPath(path === '' ? rootDir : join(rootDir, path));
  return {
    read: async (path) => (existsSync(at(path)) ? readFileSync(at(path)) : undefined),
    names: async (dir) => decodeNames(readdirSync(at(dir)), () => readdirSync(at(dir), { encoding: 'buffer' })).sort(),
    exists: async (path) => existsSync(at(path)),
    isDir: async (path) => existsSync(at(path)) && lstatSync(at(path)).isDirectory(),
    mtimeMs: async (path) => lstatSync(at(path)).mtimeMs,
    linkTarget: async (path) => (existsSync(at(path)) || lstatSync(at(path), { throwIfNoEntry: false }) ? decodeName(readlinkSync(at(path), { encoding: 'buffer' })) : undefined),
  };
}

export interface ConformanceFixture {
  /** Built through the registry (createTarget): a URL and options, as users write them. */
  readonly target: Target;
  /** How to look at what the server holds. */
  readonly readBack: ReadBack;
  /**
   * The server stores the target root as a folder on this machine: the cases that tamper
   * behind its back (links planted below the root, the root or its parent removed) run.
   * `rootParentRemovable`: the root's parent belongs to the fixture (not /tmp itself).
   */
  readonly disk?: { readonly rootDir: string; readonly rootParentRemovable?: boolean };
  /** A network target: the server's port on 127.0.0.1 and the connections the target may open. */
  readonly server?: { readonly port: number; readonly connections: number };

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

/**
 * A folder beside the target root, outside it but reachable by the server (a chrooting FTP
 * server sees it too: the FTP roots live below the server's root), owned like the root so
 * that a server which follows a link could write there. `snapshot()` is its whole content.
 */
function outsideFolder(root: string): { path: string; snapshot(): string; cleanup(): void } {
  const path = mkdtempSync(join(dirname(root), 'outside-'));
  const owner = lstatSync(root);
  mkdirSync(join(path, 'deeper'));
  writeFileSync(join(path, 'f'), 'theirs');
  writeFileSync(join(path, 'keep'), 'theirs too');
  writeFileSync(join(path, 'deeper', 'g'), 'deep and theirs');
  for (const p of [path, join(path, 'deeper'), join(path, 'f'), join(path, 'keep'), join(path, 'deeper', 'g')]) {
    chownSync(p, owner.uid, owner.gid);
    chmodSync(p, lstatSync(p).isDirectory() ? 0o777 : 0o666);
  }
  const snapshot = (): string => {
    const walk = (rel: string): string[] =>
      readdirSync(join(path, rel))
        .sort()
        .flatMap((name) => {
          const p = rel === '' ? name : `${rel}/${name}`;
          const st = lstatSync(join(path, p));
          if (st.isDirectory()) return [`${p}/`, ...walk(p)];
          return [`${p}: ${st.isSymbolicLink() ? `-> ${readlinkSync(join(path, p))}` : readFileSync(join(path, p), 'utf8')} (mode ${(st.mode & 0o7777).toString(8)}, mtime ${st.mtimeMs})`];
        });
    return walk('').join('\n');
  };
  return { path, snapshot, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Replace the directory `rel` on disk by a (relative) symbolic link to `to`; the directory is moved aside. */
function plantLink(root: string, rel: string, to: string): void {
  const at = join(root, rel);
  renameSync(at, `${at}.moved-aside`);
  symlinkSync(relative(dirname(at), to), at);
}

/** `setup` returns undefined when the server is missing (already reported by serverMissing). */
export interface ConformanceOptions {
  /**
   * The protocol cannot see a link on the server (WebDAV shows a linked directory as a plain
   * collection): whether the server follows one is its own setting, so the cases that plant
   * a link below the root are not run. Unsafe paths (`..`) are still refused by the client.
   */
  readonly linksInvisible?: boolean;
  /**
   * The root is a key prefix of an object store, not a directory: it cannot be removed or
   * created on its own (a missing bucket is the connect's business), so the root-removed
   * case does not apply.
   */
  readonly rootIsPrefix?: boolean;
}

export function describeConformance(label: string, setup: () => Promise<ConformanceFixture | undefined>, options: ConformanceOptions = {}): void {
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

    const test = (name: string, body: (t: Target, v: ReadBack) => Promise<void>) =>
      it(name, async (ctx) => {
        if (!fx) return ctx.skip('server not available');
        await body(fx.target, fx.readBack);
      });
    /** A case that tampers with the storage behind the server's back: needs the folder on disk. */
    const diskTest = (name: string, body: (t: Target, v: ReadBack, root: string) => Promise<void>) =>
      it(name, async (ctx) => {
        if (!fx) return ctx.skip('server not available');
        if (!fx.disk) return ctx.skip("the server's storage is not a folder on this machine");
        await body(fx.target, fx.readBack, fx.disk.rootDir);
      });
    const text = async (v: ReadBack, path: string) => (await v.read(path))?.toString('utf8');

    test('lists an empty directory', async (t) => {
      const d = fresh('empty');
      await t.mkdir(d);
      assert.deepEqual(await t.list(d), []);
    });

    test('put, stat and list a file; bytes are exact, no temp file is left', async (t, v) => {
      const d = fresh('put');
      await t.mkdir(d);
      const data = Buffer.from('hello\r\nworld\n\0binary');
      await t.put(`${d}/a.txt`, bufferSource(data), { tempPath: `${d}/.a.txt.tmp` });
      assert.deepEqual(await v.read(`${d}/a.txt`), data);
      const st = await t.stat(`${d}/a.txt`);
      assert.equal(st?.kind, 'file');
      assert.equal(st?.size, data.length);
      const names = (await t.list(d)).map((e) => e.path);
      assert.deepEqual(names, [`${d}/a.txt`]);
      assert.deepEqual(await v.names(d), ['a.txt']);
    });

    test('overwrites an existing file', async (t, v) => {
      const d = fresh('over');
      await t.mkdir(d);
      await t.put(`${d}/f`, bufferSource('first version, longer'), { tempPath: `${d}/.f.tmp` });
      await t.put(`${d}/f`, bufferSource('second'), { tempPath: `${d}/.f.tmp` });
      assert.equal(await text(v, `${d}/f`), 'second');
    });

    test('nested mkdir, and mkdir is idempotent', async (t, v) => {
      const d = fresh('nest');
      await t.mkdir(d);
      await t.mkdir(`${d}/b`);
      await t.mkdir(`${d}/b/c`);
      await t.mkdir(`${d}/b/c`);
      if (t.caps.implicitDirs === true) {
        // Nothing under them: an object store keeps no empty directory (or keeps a marker).
        assert.notEqual((await t.stat(`${d}/b`))?.kind, 'file');
        await t.put(`${d}/b/c/f`, bufferSource('f'), {});
      } else {
        assert.ok(await v.isDir(`${d}/b/c`));
      }
      assert.equal((await t.stat(`${d}/b`))?.kind, 'dir');
      assert.ok(await v.isDir(`${d}/b/c`));
    });

    test('zero-byte and multi-MiB files', async (t, v) => {
      const d = fresh('sizes');
      await t.mkdir(d);
      await t.put(`${d}/empty`, bufferSource(Buffer.alloc(0)), { tempPath: `${d}/.empty.tmp` });
      const big = Buffer.alloc(6 * 1024 * 1024 + 7);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
      await t.put(`${d}/big.bin`, bufferSource(big), { tempPath: `${d}/.big.tmp` });
      assert.equal((await v.read(`${d}/empty`))?.length, 0);
      assert.equal(sha256((await v.read(`${d}/big.bin`)) ?? Buffer.alloc(0)), sha256(big));
      assert.equal((await t.stat(`${d}/big.bin`))?.size, big.length);
    });

    test('hostile names: spaces, quotes, #%?&+, accents, CJK, leading dash', async (t, v) => {
      const d = fresh('names');
      await t.mkdir(d);
      const names = ['with space', "qu'o\"te", '#%?&+ =;', 'accénts-ñ', '漢字かな', '-leading-dash', ' lead space'];
      for (const name of names) {
        await t.mkdir(`${d}/${name}.d`);
        await t.put(`${d}/${name}.d/${name}`, bufferSource(name), { tempPath: `${d}/${name}.d/.tmp` });
      }
      for (const name of names) {
        assert.equal(await text(v, `${d}/${name}.d/${name}`), name);
      }
      const listed = (await t.list(d)).map((e) => e.path).sort();
      assert.deepEqual(listed, names.map((n) => `${d}/${n}.d`).sort());
    });

    test('names that are not valid UTF-8: carried byte for byte when caps.byteNames, else refused as E_NAME', async (t, v) => {
      const d = fresh('bytes');
      await t.mkdir(d);
      const esc = (byte: number) => String.fromCharCode(0xdc00 + byte);
      const dir = `${d}/dir${esc(0xff)}`;
      const file = `${dir}/bad${esc(0xfe)}name`;
      if (!t.caps.byteNames) {
        await expectCode(t.mkdir(dir), 'E_NAME');
        await expectCode(t.put(`${d}/bad${esc(0xfe)}name`, bufferSource('x'), { tempPath: `${d}/.bad.tmp` }), 'E_NAME');
        if (await v.exists(d)) assert.deepEqual(await v.names(d), [], 'nothing written under a mangled name');
        return;
      }
      await t.mkdir(dir);
      await t.put(file, bufferSource('bytes'), { tempPath: `${dir}/.tmp${esc(0xe9)}` });
      assert.equal(await text(v, file), 'bytes');
      assert.deepEqual(await v.names(d), [`dir${esc(0xff)}`], 'the name on the server is the bytes, not a replacement character');
      assert.deepEqual((await t.list(d)).map((e) => e.path), [dir]);
      assert.deepEqual((await t.list(dir)).map((e) => e.path), [file]);
      assert.equal((await t.stat(file))?.size, 5);
      // A real U+FFFD is a different name from the byte it replaces when decoded lossily.
      assert.equal(await t.stat(`${d}/dir\ufffd`), undefined);
      let moved = dir;
      if (t.rename) {
        moved = `${d}/docs${esc(0xe9)}`;
        await t.rename(dir, moved);
        assert.equal(await text(v, `${moved}/bad${esc(0xfe)}name`), 'bytes');
      }
      if (t.symlink) {
        assert.ok(v.linkTarget, 'the fixture reads links back');
        await t.symlink(`${d}/link${esc(0xfd)}`, `docs${esc(0xe9)}`);
        assert.equal(await v.linkTarget(`${d}/link${esc(0xfd)}`), `docs${esc(0xe9)}`);
        assert.equal((await t.stat(`${d}/link${esc(0xfd)}`))?.linkTarget, `docs${esc(0xe9)}`);
      }
      if (t.hash) assert.equal(await t.hash(`${moved}/bad${esc(0xfe)}name`), sha256(Buffer.from('bytes')));
      await t.rmdir(moved, { recursive: true });
      await t.remove(`${d}/link${esc(0xfd)}`);
      assert.deepEqual(await v.names(d), []);
    });

    test('a newline in a name works or is refused as E_NAME', async (t, v) => {
      const d = fresh('newline');
      await t.mkdir(d);
      try {
        await t.put(`${d}/line\nbreak`, bufferSource('x'), { tempPath: `${d}/.nl.tmp` });
        assert.equal(await text(v, `${d}/line\nbreak`), 'x');
      } catch (err) {
        assert.ok(err instanceof TargetError && err.code === 'E_NAME', `expected E_NAME, got ${String(err)}`);
      }
    });

    test('rename a file, rename over an existing file, rename a non-empty directory', async (t, v) => {
      if (!t.rename) return;
      const d = fresh('ren');
      await t.mkdir(d);
      await t.put(`${d}/a`, bufferSource('A'), { tempPath: `${d}/.a.tmp` });
      await t.put(`${d}/b`, bufferSource('B'), { tempPath: `${d}/.b.tmp` });
      await t.rename(`${d}/a`, `${d}/c`);
      assert.equal(await text(v, `${d}/c`), 'A');
      assert.equal(await v.exists(`${d}/a`), false);
      await t.rename(`${d}/c`, `${d}/b`);
      assert.equal(await text(v, `${d}/b`), 'A');
      assert.equal(await v.exists(`${d}/c`), false);
      await t.mkdir(`${d}/tree`);
      await t.mkdir(`${d}/tree/sub`);
      await t.put(`${d}/tree/sub/f`, bufferSource('F'), { tempPath: `${d}/tree/sub/.f.tmp` });
      await t.rename(`${d}/tree`, `${d}/moved`);
      assert.equal(await text(v, `${d}/moved/sub/f`), 'F');
      assert.equal(await v.exists(`${d}/tree`), false);
    });

    test('put without a temp name writes the path in place (inside a staged directory)', async (t, v) => {
      const d = fresh('inplace');
      await t.mkdir(d);
      await t.put(`${d}/f`, bufferSource('in place'), {});
      await t.put(`${d}/empty`, bufferSource(''), {});
      assert.equal(await text(v, `${d}/f`), 'in place');
      assert.deepEqual(await v.names(d), ['empty', 'f'], 'no other name was used');
    });

    test('a directory renamed onto an existing file or non-empty directory fails; nothing there is removed', async (t, v) => {
      if (!t.rename) return;
      const d = fresh('dirover');
      await t.mkdir(d);
      await t.mkdir(`${d}/staged`);
      await t.put(`${d}/staged/f`, bufferSource('new'), {});
      await t.put(`${d}/file`, bufferSource('theirs'), {});
      await assert.rejects(t.rename(`${d}/staged`, `${d}/file`), TargetError);
      assert.equal(await text(v, `${d}/file`), 'theirs');
      await t.mkdir(`${d}/full`);
      await t.put(`${d}/full/g`, bufferSource('theirs too'), {});
      await assert.rejects(t.rename(`${d}/staged`, `${d}/full`), TargetError);
      assert.equal(await text(v, `${d}/full/g`), 'theirs too');
      assert.equal(await text(v, `${d}/staged/f`), 'new', 'the directory stays where it was');
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

    test('rmdir of a non-empty directory fails with E_NOT_EMPTY unless recursive', async (t, v) => {
      const d = fresh('rmd');
      await t.mkdir(d);
      await t.mkdir(`${d}/x`);
      await t.mkdir(`${d}/x/y`);
      await t.put(`${d}/x/y/f`, bufferSource('f'), { tempPath: `${d}/x/y/.f.tmp` });
      await expectCode(t.rmdir(`${d}/x`), 'E_NOT_EMPTY');
      await t.rmdir(`${d}/x`, { recursive: true });
      assert.equal(await v.exists(`${d}/x`), false);
      assert.ok(await v.exists(d) || t.caps.implicitDirs === true, 'only the directory asked for is removed');
    });

    test('missing paths: stat is undefined, list and rename fail with E_NOT_FOUND', async (t) => {
      const d = fresh('missing');
      assert.equal(await t.stat(`${d}/nope`), undefined);
      if (t.caps.implicitDirs === true) assert.deepEqual(await t.list(`${d}/nope`), [], 'a prefix with nothing under it is empty');
      else await expectCode(t.list(`${d}/nope`), 'E_NOT_FOUND');
      if (t.rename) await expectCode(t.rename(`${d}/nope`, `${d}/other`), 'E_NOT_FOUND');
    });

    test('parallel puts all land', async (t, v) => {
      const d = fresh('par');
      await t.mkdir(d);
      await Promise.all(
        Array.from({ length: 24 }, (_, i) => t.put(`${d}/f${i}`, bufferSource(`content ${i}`), { tempPath: `${d}/.f${i}.tmp` })),
      );
      for (let i = 0; i < 24; i++) assert.equal(await text(v, `${d}/f${i}`), `content ${i}`);
    });

    test('declared capabilities match behaviour: put keeps the mtime when preservesMtime', async (t, v) => {
      const d = fresh('caps');
      await t.mkdir(d);
      const mtimeMs = Date.UTC(2021, 5, 6, 7, 8, 9);
      await t.put(`${d}/m`, bufferSource('mtime', mtimeMs), { tempPath: `${d}/.m.tmp` });
      const kept = await v.mtimeMs(`${d}/m`);
      if (!t.caps.preservesMtime) return;
      assert.ok(Math.abs(kept - mtimeMs) < 1000, `mtime ${kept} should be ${mtimeMs}`);
      const st = await t.stat(`${d}/m`);
      if (st?.mtimeMs !== undefined) assert.ok(Math.abs(st.mtimeMs - mtimeMs) < 1000);
      const listed = (await t.list(d)).find((e) => e.path === `${d}/m`);
      if (listed?.mtimeMs !== undefined) assert.ok(Math.abs(listed.mtimeMs - mtimeMs) < 1000, 'list reports the kept mtime too');
    });

    test('capability honesty: the capabilities follow from the optional methods, nothing absent is claimed', async (t) => {
      const caps = capabilitiesOf(t);
      assert.equal(caps.rename, typeof t.rename === 'function');
      assert.equal(caps.symlinks, typeof t.symlink === 'function');
      assert.equal(caps.hash, typeof t.hash === 'function');
      for (const legacy of ['rename', 'symlinks', 'hash', 'setMtime']) assert.ok(!(legacy in t.caps), `caps declares "${legacy}": it follows from the method (capabilities.ts)`);
      assert.equal((t as { setMtime?: unknown }).setMtime, undefined, 'setMtime is not part of the contract: put keeps the mtime');
    });

    test('optional method symlink: present means it works (a link made, replaced, listed, removed)', async (t, v) => {
      if (!t.symlink) return;
      const d = fresh('symlink');
      await t.mkdir(d);
      await t.put(`${d}/m`, bufferSource('m'), { tempPath: `${d}/.m.tmp` });
      assert.ok(v.linkTarget, 'the fixture reads links back');
      await t.symlink(`${d}/link`, 'm');
      assert.equal(await v.linkTarget(`${d}/link`), 'm');
      await t.symlink(`${d}/link`, 'elsewhere/dangling');
      assert.equal(await v.linkTarget(`${d}/link`), 'elsewhere/dangling', 'an existing link is replaced');
      const st = await t.stat(`${d}/link`);
      assert.equal(st?.kind, 'symlink');
      assert.equal(st?.linkTarget, 'elsewhere/dangling');
      const listed = (await t.list(d)).find((e) => e.path === `${d}/link`);
      assert.equal(listed?.kind, 'symlink');
      assert.equal(listed?.linkTarget, 'elsewhere/dangling');
      await t.remove(`${d}/link`);
      assert.deepEqual(await v.names(d), ['m'], 'remove takes the link, not what it points at');
    });

    test('optional method hash: present means it works (SHA-256 of what the server holds)', async (t) => {
      if (!t.hash) return;
      const d = fresh('hash');
      await t.mkdir(d);
      const big = Buffer.alloc(3 * 1024 * 1024 + 1, 0x5a);
      await t.put(`${d}/small`, bufferSource('hash me'), { tempPath: `${d}/.s.tmp` });
      await t.put(`${d}/big`, bufferSource(big), { tempPath: `${d}/.b.tmp` });
      await t.put(`${d}/empty`, bufferSource(''), { tempPath: `${d}/.e.tmp` });
      assert.equal(await t.hash(`${d}/small`), sha256(Buffer.from('hash me')));
      assert.equal(await t.hash(`${d}/big`), sha256(big));
      assert.equal(await t.hash(`${d}/empty`), sha256(Buffer.alloc(0)));
      await expectCode(t.hash(`${d}/nope`), 'E_NOT_FOUND');
    });

    test('optional method prewarm: present means a connect first, then it returns at once', async (t) => {
      if (!t.prewarm) return;
      const started = Date.now();
      t.prewarm();
      assert.ok(Date.now() - started < 200, 'prewarm works in the background');
      assert.ok((await t.list('')).length >= 0);
    });

    test('optional method listDirs: present means each directory listed as `list` lists it, missing ones undefined', async (t) => {
      if (!t.listDirs) return;
      const d = fresh('listdirs');
      await t.mkdir(d);
      for (const sub of ['a', 'a/b', 'a/b/c', 'e', '*[x]?', 'a/other']) await t.mkdir(`${d}/${sub}`);
      for (const f of ['top', 'a/f1', 'a/b/f2', 'a/b/c/f3', '*[x]?/g', 'a/other/hidden']) await t.put(`${d}/${f}`, bufferSource(f), {});
      // Nested directories asked together, one not asked for (a/other: listed as a child, not below), a missing one, a file.
      const asked = [d, `${d}/a`, `${d}/a/b/c`, `${d}/a/b`, `${d}/e`, `${d}/*[x]?`, `${d}/gone`, `${d}/top`];
      const got = await t.listDirs(asked);
      assert.equal(got.length, asked.length);
      const names = (entries: readonly RemoteEntry[] | undefined) => entries?.map((e) => `${e.path}:${e.kind}`).sort();
      for (let i = 0; i < 6; i++) assert.deepEqual(names(got[i]), names(await t.list(asked[i]!)), asked[i]);
      assert.deepEqual(names(got[1]), [`${d}/a/b:dir`, `${d}/a/f1:file`, `${d}/a/other:dir`]);
      assert.equal(got[6], undefined, 'a missing directory');
      assert.equal(got[7], undefined, 'a file is not a directory');
      assert.equal(got[2]?.find((e) => e.path.endsWith('f3'))?.size, 'a/b/c/f3'.length);
    });

    /** Runs `body` with a fresh directory holding `sub/` (f, deeper/g) whose `sub` is then a link to a folder outside the root. */
    const withPlantedLink = async (t: Target, root: string, body: (d: string) => Promise<void>): Promise<void> => {
      const d = fresh('jail');
      await t.mkdir(d);
      await t.mkdir(`${d}/sub`);
      await t.mkdir(`${d}/sub/deeper`);
      await t.put(`${d}/sub/f`, bufferSource('ours'), { tempPath: `${d}/sub/.f.tmp` });
      await t.put(`${d}/sub/deeper/g`, bufferSource('ours too'), { tempPath: `${d}/sub/deeper/.g.tmp` });
      // The directories were used (listed) first: a check done once and cached would miss the link.
      assert.equal((await t.list(`${d}/sub`)).length, 2);
      const outside = outsideFolder(root);
      try {
        const before = outside.snapshot();
        plantLink(root, `${d}/sub`, outside.path);
        await body(d);
        assert.equal(outside.snapshot(), before, 'the folder outside the target root changed');
      } finally {
        outside.cleanup();
      }
    };

    if (!options.linksInvisible) diskTest('the root is a jail: put, mkdir, symlink through a directory now a link fail with E_LINK_IN_PATH', async (t, _v, root) => {
      await withPlantedLink(t, root, async (d) => {
        await expectCode(t.put(`${d}/sub/f`, bufferSource('overwritten?'), { tempPath: `${d}/sub/.f.tmp` }), 'E_LINK_IN_PATH');
        await expectCode(t.put(`${d}/sub/new`, bufferSource('created?'), { tempPath: `${d}/sub/.new.tmp` }), 'E_LINK_IN_PATH');
        await expectCode(t.put(`${d}/sub/in-place`, bufferSource('created?'), {}), 'E_LINK_IN_PATH');
        await expectCode(t.put(`${d}/sub/deeper/g`, bufferSource('overwritten?'), { tempPath: `${d}/sub/deeper/.g.tmp` }), 'E_LINK_IN_PATH');
        await expectCode(t.mkdir(`${d}/sub/made`), 'E_LINK_IN_PATH');
        await expectCode(t.mkdir(`${d}/sub/deeper/made`), 'E_LINK_IN_PATH');
        if (t.symlink) await expectCode(t.symlink(`${d}/sub/l`, 'f'), 'E_LINK_IN_PATH');
      });
    });

    if (!options.linksInvisible) diskTest('the root is a jail: list, stat and hash do not look through a directory now a link', async (t, _v, root) => {
      await withPlantedLink(t, root, async (d) => {
        await expectCode(t.list(`${d}/sub`), 'E_LINK_IN_PATH');
        await expectCode(t.list(`${d}/sub/deeper`), 'E_LINK_IN_PATH');
        await expectCode(t.stat(`${d}/sub/f`), 'E_LINK_IN_PATH');
        if (t.hash) await expectCode(t.hash(`${d}/sub/f`), 'E_LINK_IN_PATH');
        if (t.listDirs) {
          await expectCode(t.listDirs([d, `${d}/sub`]), 'E_LINK_IN_PATH');
          await expectCode(t.listDirs([d, `${d}/sub/deeper`]), 'E_LINK_IN_PATH');
        }
      });
    });

    if (!options.linksInvisible) diskTest('the root is a jail: remove, rmdir and recursive rmdir never act through a link', async (t, _v, root) => {
      await withPlantedLink(t, root, async (d) => {
        await expectCode(t.remove(`${d}/sub/f`), 'E_LINK_IN_PATH');
        await expectCode(t.rmdir(`${d}/sub/deeper`), 'E_LINK_IN_PATH');
        await expectCode(t.rmdir(`${d}/sub/deeper`, { recursive: true }), 'E_LINK_IN_PATH');
        await expectCode(t.rmdir(`${d}/sub`, { recursive: true }), 'E_LINK_IN_PATH');
        await expectCode(t.rmdir(`${d}/sub`), 'E_LINK_IN_PATH');
        assert.ok(lstatSync(join(root, d, 'sub')).isSymbolicLink(), 'the link itself stays');
        // The directory holding the link: the link itself may go, never what it points at.
        try {
          await t.rmdir(d, { recursive: true });
          assert.equal(existsSync(join(root, d, 'sub')), false);
        } catch (err) {
          assert.ok(err instanceof TargetError && err.code === 'E_LINK_IN_PATH', `expected success or E_LINK_IN_PATH, got ${String(err)}`);
        }
      });
    });

    if (!options.linksInvisible) diskTest('the root is a jail: rename into and out of a directory now a link fails with E_LINK_IN_PATH', async (t, v, root) => {
      if (!t.rename) return;
      await withPlantedLink(t, root, async (d) => {
        await t.put(`${d}/keep`, bufferSource('mine'), { tempPath: `${d}/.keep.tmp` });
        await t.mkdir(`${d}/tree`);
        await expectCode(t.rename!(`${d}/keep`, `${d}/sub/keep`), 'E_LINK_IN_PATH');
        await expectCode(t.rename!(`${d}/tree`, `${d}/sub/tree`), 'E_LINK_IN_PATH');
        await expectCode(t.rename!(`${d}/sub/f`, `${d}/taken`), 'E_LINK_IN_PATH');
        await expectCode(t.rename!(`${d}/sub/deeper`, `${d}/taken-dir`), 'E_LINK_IN_PATH');
        assert.equal(await text(v, `${d}/keep`), 'mine');
        assert.equal(await v.exists(`${d}/taken`), false);
      });
    });

    test("the root is a jail: '..' and other unsafe paths are refused with E_NAME before anything is sent", async (t, v) => {
      const d = fresh('dots');
      await t.mkdir(d);
      await t.put(`${d}/keep`, bufferSource('ours'), {});
      // On disk: a real folder beside the root, which a path that escaped would reach.
      const root = fx?.disk?.rootDir;
      const outside = root !== undefined ? outsideFolder(root) : undefined;
      try {
        const before = outside?.snapshot();
        const up = outside !== undefined && root !== undefined ? `${d}/../../${relative(dirname(root), outside.path)}` : `${d}/../../outside`;
        await expectCode(t.put(`${up}/f`, bufferSource('escaped?'), { tempPath: `${d}/.f.tmp` }), 'E_NAME');
        await expectCode(t.put(`${d}/f`, bufferSource('escaped?'), { tempPath: `${up}/.f.tmp` }), 'E_NAME');
        await expectCode(t.mkdir(`${up}/made`), 'E_NAME');
        await expectCode(t.remove(`${up}/keep`), 'E_NAME');
        await expectCode(t.remove(`${d}/../${d}/keep`), 'E_NAME');
        await expectCode(t.rmdir(`${up}/deeper`, { recursive: true }), 'E_NAME');
        await expectCode(t.list(up), 'E_NAME');
        await expectCode(t.stat(`${up}/f`), 'E_NAME');
        await expectCode(t.mkdir(`${d}//x`), 'E_NAME');
        await expectCode(t.mkdir(`./${d}`), 'E_NAME');
        if (t.hash) await expectCode(t.hash(`${d}/../${d}/keep`), 'E_NAME');
        if (t.symlink) await expectCode(t.symlink(`${up}/l`, 'x'), 'E_NAME');
        if (t.rename) {
          await t.put(`${d}/mine`, bufferSource('mine'), { tempPath: `${d}/.mine.tmp` });
          await expectCode(t.rename(`${d}/mine`, `${up}/keep`), 'E_NAME');
          await expectCode(t.rename(`${up}/keep`, `${d}/theirs`), 'E_NAME');
        }
        assert.deepEqual(await v.names(d), t.rename ? ['keep', 'mine'] : ['keep'], 'nothing changed in the target');
        if (outside !== undefined) assert.equal(outside.snapshot(), before, 'the folder outside the target root changed');
      } finally {
        outside?.cleanup();
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

    if (!options.rootIsPrefix) diskTest('a root removed behind our back: stat("") and list("") say so; connect({rootExisted}) creates it again', async (t, _v, root) => {
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

    diskTest('a root gone with its parent (an unmounted disk): connect({rootExisted}) waits (E_ROOT_GONE) and creates nothing', async (t, _v, root) => {
      // Only where the root's parent is the fixture's own (not the system's temp folder).
      if (!fx?.disk?.rootParentRemovable) return;
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
