/**
 * FTP-specific behaviour beyond the conformance suite, against real vsftpd and pure-ftpd:
 * secrets never in errors, no login hammering, servers that cap sessions, outages and
 * reconnects, certificate checks, capabilities decided by the server.
 */
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { TargetError } from '../../src/targets/errors.ts';
import { createFtpTarget, type FtpTargetOptions } from '../../src/targets/ftp/ftp-target.ts';
import { epsvRefusalKind, type EpsvRefusalKind } from '../../src/targets/ftp/pipelined-upload.ts';
import { createTarget } from '../../src/targets/registry.ts';
import type { TargetSpec } from '../../src/targets/spec.ts';
import type { Target } from '../../src/targets/target.ts';
import { bufferSource } from '../conformance/suite.ts';
import { freePort, makeTestCa, removeDir, type FtpTestServer } from '../servers/ftp-common.ts';
import { startPureFtpd } from '../servers/pure-ftpd.ts';
import { startVsftpd } from '../servers/vsftpd.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { capabilitiesOf } from '../../src/targets/capabilities.ts';
import { expectCode as rejectsWith } from '../helpers/expect-code.ts';

const FAST: FtpTargetOptions = { openRetry: { baseMs: 25, maxMs: 100 }, coolDownMs: 200, logger: { warn: () => undefined } };

/** Every target made here, closed at the end even when a test failed half-way. */
const made: Target[] = [];
after(async () => {
  await Promise.all(made.map((t) => t.close()));
});

function track(t: Target): Target {
  made.push(t);
  return t;
}

function target(server: FtpTestServer, extra: Partial<TargetSpec> = {}, options: FtpTargetOptions = FAST, scheme = 'ftp', path = '/'): Target {
  const url = `${scheme}://${server.user}@${server.host}:${server.port}${path}`;
  return track(createFtpTarget({ url, password: server.password, timeoutMs: 5_000, ...extra }, new URL(url), options));
}

/** Every string reachable from an error: message, stack, causes. */
function everythingSaid(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
    if (e instanceof Error) {
      parts.push(e.message, e.stack ?? '');
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join('\n');
}

/** A source that trickles `chunks` × 64 KiB, `delayMs` apart (a long upload to interrupt). */
function slowSource(chunks: number, delayMs: number) {
  const chunk = Buffer.alloc(64 * 1024, 7);
  return {
    size: chunks * chunk.length,
    mtimeMs: Date.now(),
    open: () =>
      Readable.from(
        (async function* () {
          for (let i = 0; i < chunks; i++) {
            await new Promise((r) => setTimeout(r, delayMs));
            yield chunk;
          }
        })(),
      ),
  };
}

describe('ftp target: settings', () => {
  it('registers ftp:// and ftps://, and the display name carries no password', () => {
    const t = createTarget({ url: 'ftp://deploy:s3cret-pw@ftp.example.com:2121/public_html' });
    assert.equal(t.displayName, 'ftp://deploy@ftp.example.com:2121/public_html');
    assert.ok(!t.displayName.includes('s3cret-pw'));
    const s = createTarget({ url: 'ftps://deploy@ftp.example.com/site' });
    assert.equal(s.displayName, 'ftps://deploy@ftp.example.com/site');
  });

  it('rejects contradictory or foreign keys with E_CONFIG naming the key', () => {
    const bad: TargetSpec[] = [
      { url: 'ftps://u@h/', tls: 'none' },
      { url: 'ftp://u@h/', identityFile: '/k' },
      { url: 'ftp://u@h/', ca: '/ca.pem' },
      { url: 'ftp://u@h/', connections: 0 },
      { url: 'ftp://u@h/a%2Fb' },
      { url: 'ftps://u@h/', ca: '/does/not/exist.pem' },
    ];
    for (const spec of bad) {
      assert.throws(() => createTarget(spec), (err: unknown) => err instanceof TargetError && err.code === 'E_CONFIG', spec.url);
    }
  });

  it('a server that never answers: E_TIMEOUT within the deadline; nobody listening: E_CONNECTION', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const addr = silent.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    try {
      const url = `ftp://u@127.0.0.1:${port}/`;
      const t = track(createFtpTarget({ url, password: 'pw-never-shown', timeoutMs: 300 }, new URL(url), FAST));
      const started = Date.now();
      const err = await rejectsWith(t.connect(), 'E_TIMEOUT');
      assert.ok(Date.now() - started < 5_000, 'the deadline bounds the wait');
      assert.ok(!everythingSaid(err).includes('pw-never-shown'));
      await t.close();
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
    const closedPort = await freePort();
    const url = `ftp://u@127.0.0.1:${closedPort}/`;
    const t = track(createFtpTarget({ url, password: 'x' }, new URL(url), FAST));
    await rejectsWith(t.connect(), 'E_CONNECTION');
    await t.close();
  });
});

describe('ftp target: vsftpd', () => {
  let server: FtpTestServer | undefined;
  before(async () => {
    server = await startVsftpd();
  });
  after(async () => server?.cleanup());

  it('wrong password: E_AUTH, the password is nowhere in the error, and no retry loop', async (ctx) => {
    if (!server) return ctx.skip('vsftpd not available');
    const wrong = 'Wr0ng-Passw0rd-xyzzy';
    const t = target(server, { password: wrong });
    // bulk: all four connections log in at once; each is rejected once, none is retried.
    const err = await rejectsWith(t.connect({ bulk: true }), 'E_AUTH');
    assert.ok(!everythingSaid(err).includes(wrong), everythingSaid(err));
    // Latched: later calls fail at once with E_AUTH without contacting the server, even
    // when the server is gone (a retry loop would now report E_CONNECTION).
    await server.stop();
    try {
      const started = Date.now();
      await rejectsWith(t.stat('x'), 'E_AUTH');
      await rejectsWith(t.put('x', bufferSource('x'), { tempPath: '.x.tmp' }), 'E_AUTH');
      assert.ok(Date.now() - started < 200, 'no reconnect attempts after a rejected login');
    } finally {
      await server.start();
    }
    await t.close();
  });

  it('the password given inline in the URL never shows either', async (ctx) => {
    if (!server) return ctx.skip('vsftpd not available');
    const secret = 'Inline-Secret-42';
    const url = `ftp://${server.user}:${secret}@${server.host}:${server.port}/`;
    const t = track(createFtpTarget({ url }, new URL(url), FAST));
    assert.ok(!t.displayName.includes(secret));
    const err = await rejectsWith(t.connect(), 'E_AUTH');
    assert.ok(!everythingSaid(err).includes(secret));
    await t.close();
  });

  it('caps reflect the server: vsftpd has no MFMT, so no mtime preservation', async (ctx) => {
    if (!server) return ctx.skip('vsftpd not available');
    const t = target(server);
    await t.connect();
    assert.equal(t.caps.preservesMtime, false);
    assert.equal(capabilitiesOf(t).rename, true);
    await t.put('m', bufferSource('m'), { tempPath: '.m.tmp' });
    const [entry] = (await t.list('')).filter((e) => e.path === 'm');
    assert.equal(entry?.mtimeMs, undefined, 'LIST dates are not trusted');
    await t.close();
  });

  it('a missing root is created at connect; a dot file is listed; the temp file is gone', async (ctx) => {
    if (!server) return ctx.skip('vsftpd not available');
    const t = target(server, {}, FAST, 'ftp', '/deep/er/root dir');
    await t.connect();
    await t.put('.hidden', bufferSource('h'), { tempPath: '.hidden.tmp' });
    assert.deepEqual((await t.list('')).map((e) => e.path), ['.hidden']);
    assert.equal(readFileSync(join(server.rootDir, 'deep/er/root dir/.hidden'), 'utf8'), 'h');
    await t.close();
  });

  it('the server restarts while the pool is idle: the next call reconnects transparently', async (ctx) => {
    if (!server) return ctx.skip('vsftpd not available');
    const t = target(server);
    await t.connect();
    await t.mkdir('idle');
    await server.stop();
    await server.start();
    await t.put('idle/after-restart', bufferSource('ok'), { tempPath: 'idle/.a.tmp' });
    assert.equal(readFileSync(join(server.rootDir, 'idle/after-restart'), 'utf8'), 'ok');
    await t.close();
  });

  it('server stopped mid-upload: E_CONNECTION, no half file under the final name; after restart calls work again', async (ctx) => {
    if (!server) return ctx.skip('vsftpd not available');
    const t = target(server);
    await t.connect();
    await t.mkdir('outage');
    const upload = t.put('outage/big', slowSource(40, 25), { tempPath: 'outage/.big.tmp' });
    await new Promise((r) => setTimeout(r, 300));
    await server.stop();
    await rejectsWith(upload, 'E_CONNECTION');
    assert.equal(existsSync(join(server.rootDir, 'outage/big')), false);
    await rejectsWith(t.stat('outage'), 'E_CONNECTION');
    await server.start();
    await new Promise((r) => setTimeout(r, 250)); // past the pool's cool-down
    await t.put('outage/small', bufferSource('back'), { tempPath: 'outage/.s.tmp' });
    assert.equal(readFileSync(join(server.rootDir, 'outage/small'), 'utf8'), 'back');
    await t.close();
  });

  it('an upload that takes longer than the inactivity timeout but keeps moving lands (the control connection is silent meanwhile)', async (ctx) => {
    if (!server) return ctx.skip('vsftpd not available');
    const t = target(server, { timeoutMs: 800 });
    await t.connect();
    const source = slowSource(12, 200); // 2.4 s, a chunk every 200 ms
    await t.put('long', source, { tempPath: '.long.tmp' });
    assert.equal(readFileSync(join(server.rootDir, 'long')).length, source.size);
    await t.close();
  });

  it('a transfer that stops moving fails with E_TIMEOUT after the inactivity timeout, and nothing lands under the final name', async (ctx) => {
    if (!server) return ctx.skip('vsftpd not available');
    const t = target(server, { timeoutMs: 600 });
    await t.connect();
    const chunk = Buffer.alloc(64 * 1024, 1);
    const stuck = {
      size: chunk.length * 100,
      mtimeMs: Date.now(),
      open: () =>
        Readable.from(
          (async function* () {
            yield chunk;
            await new Promise(() => undefined); // never another byte
          })(),
        ),
    };
    const started = Date.now();
    await rejectsWith(t.put('stuck', stuck, { tempPath: '.stuck.tmp' }), 'E_TIMEOUT');
    // One retry on a fresh session (a timeout counts as a lost connection), each cut after
    // 600 ms without progress: far sooner than the size-based deadline (minutes).
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    assert.equal(existsSync(join(server.rootDir, 'stuck')), false);
    await t.close();
  });
});

describe('ftp target: stat, remove and rename on hostile names (MLST on pure-ftpd, SIZE/CWD on vsftpd)', () => {
  for (const [name, start] of [
    ['vsftpd', () => startVsftpd()],
    ['pure-ftpd', () => startPureFtpd()],
  ] as const) {
    it(name, async (ctx) => {
      const server = await start();
      if (!server) return ctx.skip(`${name} not available`);
      try {
        const t = target(server);
        await t.connect();
        for (const n of [' lead space', '#%?&+ =;', '*star[x]', '-dash', '漢字', "qu'o\"te"]) {
          await t.mkdir(`${n}.d`);
          assert.equal((await t.stat(`${n}.d`))?.kind, 'dir', n);
          await t.put(`${n}.d/${n}`, bufferSource(n), { tempPath: `${n}.d/.${n}.tmp` });
          const st = await t.stat(`${n}.d/${n}`);
          assert.equal(st?.kind, 'file', n);
          assert.equal(st?.size, Buffer.byteLength(n), n);
          await t.rename!(`${n}.d/${n}`, `${n}.d/${n}2`);
          assert.deepEqual((await t.list(`${n}.d`)).map((e) => e.path), [`${n}.d/${n}2`]);
          await t.remove(`${n}.d/${n}2`);
          assert.equal(await t.stat(`${n}.d/${n}2`), undefined, n);
          await t.rmdir(`${n}.d`);
          assert.equal(await t.stat(`${n}.d`), undefined, n);
        }
        // A file where a directory is expected and the other way round.
        await t.put('plain', bufferSource('p'), { tempPath: '.plain.tmp' });
        await rejectsWith(t.mkdir('plain'), 'E_EXISTS');
        await rejectsWith(t.list('plain'), 'E_EXISTS');
        await t.mkdir('dir');
        await rejectsWith(t.put('dir', bufferSource('x'), { tempPath: '.dir.tmp' }), 'E_EXISTS');
        await rejectsWith(t.put('nope/f', bufferSource('x'), { tempPath: 'nope/.f.tmp' }), 'E_NOT_FOUND');
        await rejectsWith(t.mkdir('nope/sub'), 'E_NOT_FOUND');
        assert.deepEqual((await t.list('')).map((e) => e.path).sort(), ['dir', 'plain']);
      } finally {
        await server.cleanup();
      }
    });
  }
});

describe('ftp target: names are bytes (a latin1 control connection)', () => {
  const esc = (byte: number) => String.fromCharCode(0xdc00 + byte);
  /** A path under the server root made of string parts and raw bytes. */
  const onDisk = (server: FtpTestServer, ...parts: (string | number | Buffer)[]) =>
    Buffer.concat([Buffer.from(`${server.rootDir}/`), ...parts.map((p) => (typeof p === 'number' ? Buffer.of(p) : Buffer.isBuffer(p) ? p : Buffer.from(p)))]);
  for (const [name, start] of [
    ['vsftpd (doubles 0xFF in replies)', () => startVsftpd()],
    ['pure-ftpd (does not)', () => startPureFtpd()],
  ] as const) {
    it(`${name}: names that are not valid UTF-8, UTF-8 names and 0xFF bytes land exactly; a link that only differs by a doubled 0xFF is still a link`, async (ctx) => {
      const server = await start();
      if (!server) return ctx.skip(`${name} not available`);
      try {
        const t = target(server);
        await t.connect();
        assert.equal(t.caps.byteNames, true);
        // UTF-8 names are just their bytes; 0xFF once and twice; a Latin-1 byte.
        const names: [string, Buffer][] = [
          ['café 漢字', Buffer.from('café 漢字')],
          [`a${esc(0xff)}b`, Buffer.from([0x61, 0xff, 0x62])],
          [`two${esc(0xff)}${esc(0xff)}`, Buffer.from([0x74, 0x77, 0x6f, 0xff, 0xff])],
          [`docs${esc(0xe9)}`, Buffer.from([0x64, 0x6f, 0x63, 0x73, 0xe9])],
        ];
        for (const [i, [dir, bytes]] of names.entries()) {
          await t.mkdir(dir);
          await t.put(`${dir}/f${esc(0xfe)}`, bufferSource(`content ${i}`), { tempPath: `${dir}/.f.tmp` });
          assert.equal(readFileSync(onDisk(server, bytes, '/f', 0xfe), 'utf8'), `content ${i}`);
          assert.deepEqual((await t.list(dir)).map((e) => e.path), [`${dir}/f${esc(0xfe)}`]);
          assert.equal((await t.stat(`${dir}/f${esc(0xfe)}`))?.size, `content ${i}`.length);
        }
        assert.deepEqual((await t.list('')).map((e) => e.path).sort(), names.map(([n]) => n).sort());
        await t.rename!(`a${esc(0xff)}b`, `renamed${esc(0xff)}`);
        assert.equal(readFileSync(onDisk(server, 'renamed', 0xff, '/f', 0xfe), 'utf8'), 'content 1');
        await t.rmdir(`renamed${esc(0xff)}`, { recursive: true });
        assert.equal(existsSync(onDisk(server, 'renamed', 0xff)), false);

        // The jail with byte 0xFF: x\xff is a link to the real directory x\xff\xff (and y\xff\xff a
        // link to y\xff). Read loosely, one PWD reply would pass for the other on one of the two
        // servers; each must be refused, and nothing written where the links lead.
        const owner = statSync(server.rootDir);
        for (const [real, link] of [
          [['x', 0xff, 0xff], ['x', 0xff]],
          [['y', 0xff], ['y', 0xff, 0xff]],
        ] as const) {
          mkdirSync(onDisk(server, ...real));
          chownSync(onDisk(server, ...real), owner.uid, owner.gid);
          // Relative: the server is chrooted.
          symlinkSync(Buffer.concat(real.map((p) => (typeof p === 'number' ? Buffer.of(p) : Buffer.from(p)))), onDisk(server, ...link));
        }
        await rejectsWith(t.put(`x${esc(0xff)}/f`, bufferSource('x'), { tempPath: `x${esc(0xff)}/.f.tmp` }), 'E_LINK_IN_PATH');
        await rejectsWith(t.put(`y${esc(0xff)}${esc(0xff)}/f`, bufferSource('y'), { tempPath: `y${esc(0xff)}${esc(0xff)}/.f.tmp` }), 'E_LINK_IN_PATH');
        await rejectsWith(t.mkdir(`x${esc(0xff)}/sub`), 'E_LINK_IN_PATH');
        assert.deepEqual(readdirSync(onDisk(server, 'x', 0xff, 0xff)), []);
        assert.deepEqual(readdirSync(onDisk(server, 'y', 0xff)), []);
        // The real directories work.
        await t.put(`x${esc(0xff)}${esc(0xff)}/f`, bufferSource('x'), { tempPath: `x${esc(0xff)}${esc(0xff)}/.f.tmp` });
        await t.put(`y${esc(0xff)}/f`, bufferSource('y'), { tempPath: `y${esc(0xff)}/.f.tmp` });
        assert.equal(readFileSync(onDisk(server, 'x', 0xff, 0xff, '/f'), 'utf8'), 'x');
        assert.equal(readFileSync(onDisk(server, 'y', 0xff, '/f'), 'utf8'), 'y');
        // The probe that found out how the server writes 0xFF left nothing behind.
        assert.deepEqual(readdirSync(server.rootDir).filter((n) => n.includes('probe')), []);
      } finally {
        await server.cleanup();
      }
    });
  }
});

describe('ftp target: directory checks shared between sessions', () => {
  for (const [name, start] of [
    ['vsftpd', () => startVsftpd()],
    ['pure-ftpd', () => startPureFtpd()],
  ] as const) {
    it(`${name}: parallel puts share checks in flight, and every one into a directory now a link is refused`, async (ctx) => {
      const server = await start();
      if (!server) return ctx.skip(`${name} not available`);
      try {
        const t = target(server, { connections: 4 }, FAST, 'ftp', '/mirror');
        await t.connect({ bulk: true });
        await t.mkdir('d');
        await Promise.all(Array.from({ length: 80 }, (_, i) => t.put(`d/f${i}`, bufferSource(`c${i}`), { tempPath: `d/.f${i}.tmp` })));
        for (let i = 0; i < 80; i++) assert.equal(readFileSync(join(server.rootDir, 'mirror/d', `f${i}`), 'utf8'), `c${i}`);
        const shared = (t as unknown as { checksShared: number }).checksShared;
        assert.ok(shared > 0, 'some puts used a check another session had in flight');
        // d replaced by a link to a folder outside the target root (relative: the server is chrooted).
        const outside = join(server.rootDir, 'outside');
        mkdirSync(outside);
        const owner = statSync(server.rootDir);
        chownSync(outside, owner.uid, owner.gid);
        renameSync(join(server.rootDir, 'mirror/d'), join(server.rootDir, 'mirror/d.aside'));
        symlinkSync('../outside', join(server.rootDir, 'mirror/d'));
        const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => t.put(`d/g${i}`, bufferSource(`g${i}`), { tempPath: `d/.g${i}.tmp` })));
        for (const r of results) {
          assert.equal(r.status, 'rejected');
          const err = (r as PromiseRejectedResult).reason as TargetError;
          assert.equal(err.code, 'E_LINK_IN_PATH', err.message);
        }
        assert.deepEqual(readdirSync(outside), [], 'nothing written through the link');
      } finally {
        await server.cleanup();
      }
    });
  }
});

describe('ftp target: a server that allows only 2 sessions per client', () => {
  for (const [name, start] of [
    ['vsftpd max_per_ip=2', () => startVsftpd({ maxPerIp: 2 })],
    ['pure-ftpd -C 2', () => startPureFtpd({ maxPerIp: 2 })],
  ] as const) {
    it(`${name}: 40 parallel puts with connections: 4 all land, also after a bulk connect (4 logins at once)`, async (ctx) => {
      const server = await start();
      if (!server) return ctx.skip(`${name} not available`);
      try {
        const t = target(server, { connections: 4 });
        await t.connect({ bulk: true });
        await Promise.all(Array.from({ length: 40 }, (_, i) => t.put(`f${i}`, bufferSource(`content ${i}`), { tempPath: `.f${i}.tmp` })));
        for (let i = 0; i < 40; i++) assert.equal(readFileSync(join(server.rootDir, `f${i}`), 'utf8'), `content ${i}`);
        await t.close();
      } finally {
        await server.cleanup();
      }
    });
  }
});

describe('ftp target: pure-ftpd', () => {
  let server: FtpTestServer | undefined;
  before(async () => {
    server = await startPureFtpd({ tls: 1 });
  });
  after(async () => server?.cleanup());

  it('caps reflect the server: MFMT → mtime kept, visible in stat and list', async (ctx) => {
    if (!server) return ctx.skip('pure-ftpd not available');
    const t = target(server);
    assert.equal(t.caps.preservesMtime, false, 'unknown before connect: conservative');
    await t.connect();
    assert.equal(t.caps.preservesMtime, true);
    const mtimeMs = Date.UTC(2019, 4, 5, 6, 7, 8);
    await t.put('m', bufferSource('m', mtimeMs), { tempPath: '.m.tmp' });
    assert.equal((await t.stat('m'))?.mtimeMs, mtimeMs);
    assert.equal((await t.list('')).find((e) => e.path === 'm')?.mtimeMs, mtimeMs);
    await t.close();
  });

  it('wrong password: E_AUTH without the password in the error', async (ctx) => {
    if (!server) return ctx.skip('pure-ftpd not available');
    const wrong = 'pure-Wrong-77';
    // pure-ftpd answers a failed login only after a random anti-brute-force pause (3-6 s).
    const t = target(server, { password: wrong, timeoutMs: 15_000 });
    const err = await rejectsWith(t.connect(), 'E_AUTH');
    assert.ok(!everythingSaid(err).includes(wrong));
    await t.close();
  });

  it('FTPS with a CA the client does not trust: E_HOST_KEY', async (ctx) => {
    if (!server) return ctx.skip('pure-ftpd not available');
    const t = target(server, {}, FAST, 'ftps');
    await rejectsWith(t.connect(), 'E_HOST_KEY', (err) => assert.match(err.message, /ca|certificate/i));
    await t.close();
    // A different CA than the one that signed the server certificate: still refused.
    const dir = mkdtempSync(join(tmpdir(), 'si-other-ca-'));
    try {
      const other = makeTestCa(dir, 'some other CA');
      const t2 = target(server, { ca: other.caFile }, FAST, 'ftps');
      await rejectsWith(t2.connect(), 'E_HOST_KEY');
      await t2.close();
    } finally {
      removeDir(dir);
    }
  });

  it('FTPS with insecure: true connects, and says so in a warning', async (ctx) => {
    if (!server) return ctx.skip('pure-ftpd not available');
    const warnings: string[] = [];
    const t = target(server, { insecure: true }, { ...FAST, logger: { warn: (m) => warnings.push(m) } }, 'ftps');
    await t.connect();
    await t.put('tls-file', bufferSource('over tls'), { tempPath: '.tls.tmp' });
    assert.equal(readFileSync(join(server.rootDir, 'tls-file'), 'utf8'), 'over tls');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /insecure/);
    assert.ok(!(warnings[0] ?? '').includes(server.password));
    await t.close();
  });

  it('FTPS with the test CA via `ca` works', async (ctx) => {
    if (!server?.caFile) return ctx.skip('pure-ftpd not available');
    const t = target(server, { ca: server.caFile }, FAST, 'ftps');
    await t.connect();
    await t.mkdir('secure');
    assert.deepEqual(await t.list('secure'), []);
    await t.close();
  });
});

describe('ftp target: vsftpd with TLS', () => {
  it('implicit TLS (tls: implicit) works with the test CA', async (ctx) => {
    const server = await startVsftpd({ tls: 'implicit' });
    if (!server?.caFile) return ctx.skip('vsftpd not available');
    try {
      const t = target(server, { tls: 'implicit', ca: server.caFile }, FAST, 'ftps');
      await t.connect();
      await t.put('imp', bufferSource('implicit'), { tempPath: '.imp.tmp' });
      assert.equal(readFileSync(join(server.rootDir, 'imp'), 'utf8'), 'implicit');
      await t.close();
    } finally {
      await server.cleanup();
    }
  });

  it('zero-byte files over explicit FTPS (vsftpd fails a TLS data connection closed too early)', async (ctx) => {
    const server = await startVsftpd({ tls: true });
    if (!server?.caFile) return ctx.skip('vsftpd not available');
    try {
      const t = target(server, { ca: server.caFile }, FAST, 'ftps');
      await t.connect();
      await Promise.all(Array.from({ length: 16 }, (_, i) => t.put(`e${i}`, bufferSource(Buffer.alloc(0)), { tempPath: `.e${i}.tmp` })));
      for (let i = 0; i < 16; i++) assert.equal(readFileSync(join(server.rootDir, `e${i}`)).length, 0);
      await t.close();
    } finally {
      await server.cleanup();
    }
  });

  it('plain FTP against a server that requires TLS: E_CONFIG with a hint, not E_AUTH', async (ctx) => {
    const server = await startVsftpd({ tls: true });
    if (!server) return ctx.skip('vsftpd not available');
    try {
      const t = target(server);
      await rejectsWith(t.connect(), 'E_CONFIG', (err) => assert.match(err.message, /tls/i));
      await t.close();
    } finally {
      await server.cleanup();
    }
  });
});

describe('ftp target: bulk connect', () => {
  for (const bulk of [false, true]) {
    it(`connect({ bulk: ${bulk} }) has opened ${bulk ? 'every connection of the pool' : 'one connection'} by the time it resolves`, async (ctx) => {
      const server = await startPureFtpd();
      if (!server) return ctx.skip('pure-ftpd not available');
      const tap = await wireTap(server.port);
      try {
        const t = target({ ...server, port: tap.port }, { connections: 4 });
        await t.connect({ bulk });
        assert.equal(tap.connections, bulk ? 4 : 1);
        await t.close();
      } finally {
        tap.close();
        await server.cleanup();
      }
    });
  }
});

describe('ftp target: EPSV refused', () => {
  it('a 5xx reply means no EPSV on this server (PASV from then on); a 4xx one is tried again', () => {
    const table: [number, EpsvRefusalKind][] = [
      [500, 'unsupported'], // command not recognised
      [502, 'unsupported'], // not implemented
      [522, 'unsupported'], // network protocol not supported
      [421, 'try-again'],
      [425, 'try-again'], // pure-ftpd: the passive port it drew is taken
      [450, 'try-again'],
    ];
    for (const [code, kind] of table) assert.equal(epsvRefusalKind(code), kind, `reply ${code}`);
  });

  it('pure-ftpd answers EPSV with 425 while its passive ports are taken: the upload asks again and the session stays pipelined', async (ctx) => {
    const server = await startPureFtpd({ passivePorts: 2 });
    if (!server) return ctx.skip('pure-ftpd not available');
    const { min, max } = server.passivePorts!;
    assert.equal(max, min + 1);
    // Between client and server: what the client writes, and a hook on what the server says.
    const tap = await wireTap(server.port);
    const ports = await occupyPorts(min, 2);
    try {
      const t = target({ ...server, port: tap.port }, { connections: 1 });
      await t.connect();
      // The first EPSV is refused (every passive port taken); the ports are freed as the 425
      // goes back, so the upload's next EPSV gets one.
      tap.onServerData = (text) => {
        if (/^425 /m.test(text)) ports.release();
      };
      await t.put('retried', bufferSource('retried'), { tempPath: '.retried.tmp' });
      await t.put('next', bufferSource('next'), { tempPath: '.next.tmp' });
      assert.equal(readFileSync(join(server.rootDir, 'retried'), 'utf8'), 'retried');
      assert.equal(readFileSync(join(server.rootDir, 'next'), 'utf8'), 'next');
      // EPSV and STOR in one write each time: the refusal did not switch the session to
      // basic-ftp's one-command-per-round-trip PASV path.
      const stors = tap.written.filter((w) => /^STOR /m.test(w));
      assert.equal(stors.length, 3, `one refused STOR and two that landed, got:\n${tap.written.join('')}`);
      for (const w of stors) assert.match(w, /EPSV\r\nSTOR /);

      await t.close();
    } finally {
      ports.release();
      tap.close();
      await server.cleanup();
    }
  });

  it("no passive port frees up: the put fails with the server's own 425, and nothing of it lands", async (ctx) => {
    const server = await startPureFtpd({ passivePorts: 2 });
    if (!server) return ctx.skip('pure-ftpd not available');
    const ports = await occupyPorts(server.passivePorts!.min, 2);
    try {
      const t = target(server, { connections: 1 });
      await t.connect();
      await rejectsWith(t.put('blocked', bufferSource('blocked'), { tempPath: '.blocked.tmp' }), 'E_CONNECTION', (err) => {
        assert.match(err.message, /: 425 /, "the server's own words");
      });
      assert.ok(!existsSync(join(server.rootDir, 'blocked')) && !existsSync(join(server.rootDir, '.blocked.tmp')), 'nothing of the refused put is on the server');
      await t.close();
    } finally {
      ports.release();
      await server.cleanup();
    }
  });
});

/**
 * A loopback TCP relay in front of a server: records what the client writes (one string per
 * chunk received) and lets a test react to what the server says before the client sees it.
 */
async function wireTap(serverPort: number): Promise<{ port: number; connections: number; written: string[]; onServerData: ((text: string) => void) | undefined; close(): void }> {
  const sockets: Socket[] = [];
  const tap = {
    port: 0,
    /** Connections the client opened through the relay. */
    connections: 0,
    written: [] as string[],
    onServerData: undefined as ((text: string) => void) | undefined,
    close: () => {
      relay.close();
      for (const s of sockets) s.destroy();
    },
  };
  const relay: Server = createServer((client) => {
    tap.connections++;
    const upstream = connect(serverPort, '127.0.0.1');
    sockets.push(client, upstream);
    client.on('data', (d: Buffer) => {
      tap.written.push(d.toString('latin1'));
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      tap.onServerData?.(d.toString('latin1'));
      client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  tap.port = (relay.address() as { port: number }).port;
  return tap;
}

/** Listen on `count` ports from `first` so that a server cannot use them; `release()` frees them at once. */
async function occupyPorts(first: number, count: number): Promise<{ release(): void }> {
  const servers = Array.from({ length: count }, () => createServer());
  await Promise.all(servers.map((s, i) => new Promise<void>((resolve, reject) => s.once('error', reject).listen(first + i, '127.0.0.1', resolve))));
  return { release: () => servers.forEach((s) => s.listening && s.close()) };
}
