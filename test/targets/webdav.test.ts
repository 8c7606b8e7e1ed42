/**
 * WebDAV-specific behaviour beyond the conformance suite, against real Apache, nginx and
 * rclone servers: the status table on each server (missing parents, things in the way,
 * nothing deleted to make room), secrets never in errors, login refusals, a stale Digest
 * nonce, keep-alive sockets the server closed, certificates, configured headers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TargetError } from '../../src/targets/errors.ts';
import { createTarget } from '../../src/targets/registry.ts';
import type { TargetSpec } from '../../src/targets/spec.ts';
import type { Target } from '../../src/targets/target.ts';
import { WebdavTarget } from '../../src/targets/webdav/webdav-target.ts';
import { bufferSource } from '../conformance/suite.ts';
import { startApacheDav, type ApacheDavOptions } from '../servers/apache-dav.ts';
import type { DavTestServer } from '../servers/dav-common.ts';
import { freePort } from '../servers/net.ts';
import { startNginxDav, type NginxDavOptions } from '../servers/nginx-dav.ts';
import { startRcloneDav } from '../servers/rclone-dav.ts';
import { expectCode as rejectsWith } from '../helpers/expect-code.ts';

const made: Target[] = [];
const servers: DavTestServer[] = [];
after(async () => {
  await Promise.all(made.map((t) => t.close()));
  for (const s of servers) await s.cleanup();
});

const started = new Map<string, Promise<DavTestServer | undefined>>();
function server(key: string, start: () => Promise<DavTestServer | undefined>): Promise<DavTestServer | undefined> {
  let p = started.get(key);
  if (!p) {
    p = start().then((s) => {
      if (s) servers.push(s);
      return s;
    });
    started.set(key, p);
  }
  return p;
}

let n = 0;
/** A target on `srv` rooted at a fresh collection; `extra` overrides the spec. */
function target(srv: DavTestServer, extra: Partial<TargetSpec> = {}): { t: Target; dir: string } {
  const name = `t${++n}`;
  const spec: TargetSpec = { url: `${srv.url}/${name}`, password: srv.password, timeoutMs: 5_000, ...(srv.caFile ? { ca: srv.caFile } : {}), ...extra };
  const t = createTarget(spec);
  made.push(t);
  return { t, dir: join(srv.rootDir, name) };
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

const SERVERS: Array<[string, () => Promise<DavTestServer | undefined>]> = [
  ['Apache', () => server('apache', () => startApacheDav())],
  ['nginx', () => server('nginx', () => startNginxDav())],
  ['rclone', () => server('rclone', () => startRcloneDav())],
];

for (const [label, start] of SERVERS) {
  describe(`webdav on ${label}: the status table`, () => {
    it('a put or mkdir into a missing parent is E_NOT_FOUND, and leaves nothing', async (ctx) => {
      const srv = await start();
      if (!srv) return ctx.skip(`${label} not available`);
      const { t, dir } = target(srv);
      await t.connect();
      await rejectsWith(t.put('no/such/f', bufferSource('x'), { tempPath: 'no/such/.f.tmp' }), 'E_NOT_FOUND');
      await rejectsWith(t.mkdir('no/such'), 'E_NOT_FOUND');
      assert.equal(existsSync(join(dir, 'no')), false);
    });

    it('nothing is removed to make room: a put, a file rename or a remove meeting a directory fails with E_EXISTS', async (ctx) => {
      const srv = await start();
      if (!srv) return ctx.skip(`${label} not available`);
      const { t, dir } = target(srv);
      await t.connect();
      await t.mkdir('d');
      await t.put('d/theirs', bufferSource('theirs'), {});
      await t.put('f', bufferSource('file'), {});
      await rejectsWith(t.put('d', bufferSource('over a dir'), { tempPath: '.d.tmp' }), 'E_EXISTS');
      await rejectsWith(t.rename!('f', 'd'), 'E_EXISTS');
      await rejectsWith(t.remove('d'), 'E_EXISTS');
      assert.equal(readFileSync(join(dir, 'd/theirs'), 'utf8'), 'theirs');
      assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'file');
      assert.equal(existsSync(join(dir, '.d.tmp')), false, 'the temp file is removed');
      await rejectsWith(t.mkdir('f'), 'E_EXISTS');
    });

    it('a directory tree is removed by one recursive rmdir; a second one is a no-op', async (ctx) => {
      const srv = await start();
      if (!srv) return ctx.skip(`${label} not available`);
      const { t, dir } = target(srv);
      await t.connect();
      assert.equal(t.caps.fastRecursiveRemove, true);
      await t.mkdir('tree');
      await t.mkdir('tree/sub');
      await t.put('tree/sub/.dot', bufferSource('dot'), {});
      await t.put('tree/f', bufferSource('f'), {});
      await t.rmdir('tree', { recursive: true });
      await t.rmdir('tree', { recursive: true });
      assert.equal(existsSync(join(dir, 'tree')), false);
    });

    it('a wrong password is E_AUTH and never in the error; no password names what to set', async (ctx) => {
      const srv = await start();
      if (!srv) return ctx.skip(`${label} not available`);
      const wrong = 'Wr0ng-webdav-pw-77';
      const bad = target(srv, { password: wrong }).t;
      const err = await rejectsWith(bad.connect(), 'E_AUTH');
      assert.equal(everythingSaid(err).includes(wrong), false);
      assert.match(err.message, /login rejected for sidav/);
      const none = target(srv, { password: undefined });
      const saved = process.env['SYNC_INOTIFY_PASSWORD'];
      delete process.env['SYNC_INOTIFY_PASSWORD'];
      try {
        const t = createTarget({ url: `${srv.url}/x`, ...(srv.caFile ? { ca: srv.caFile } : {}) });
        made.push(t, none.t);
        assert.match((await rejectsWith(t.connect(), 'E_AUTH')).message, /set password or passwordFile/);
      } finally {
        if (saved !== undefined) process.env['SYNC_INOTIFY_PASSWORD'] = saved;
      }
    });
  });
}

describe('webdav: connections and logins', () => {
  it('a Digest nonce gone stale is renewed without failing the operation', async (ctx) => {
    const srv = await server('apache-stale', () => startApacheDav({ nonceLifetimeSec: 1 } satisfies ApacheDavOptions));
    if (!srv) return ctx.skip('apache2 not available');
    const { t, dir } = target(srv);
    await t.connect();
    await t.put('a', bufferSource('a'), { tempPath: '.a.tmp' });
    await new Promise((r) => setTimeout(r, 2_500));
    await t.put('b', bufferSource('b'), { tempPath: '.b.tmp' });
    assert.equal(readFileSync(join(dir, 'b'), 'utf8'), 'b');
  });

  it('keep-alive sockets the server closed while idle are replaced, not reported', async (ctx) => {
    const srv = await server('apache-short-keepalive', () => startApacheDav({ auth: 'basic', keepAliveSec: 1 }));
    if (!srv) return ctx.skip('apache2 not available');
    const { t } = target(srv);
    await t.connect();
    for (let i = 0; i < 3; i++) {
      await Promise.all(Array.from({ length: 4 }, (_, j) => t.put(`f${i}-${j}`, bufferSource(`${i}`), { tempPath: `.f${i}-${j}.tmp` })));
      await new Promise((r) => setTimeout(r, 1_500));
    }
    assert.equal((await t.list('')).length, 12);
  });

  it('nothing listening is E_CONNECTION', async () => {
    const port = await freePort();
    const t = createTarget({ url: `webdav://u@127.0.0.1:${port}/x`, password: 'p', timeoutMs: 2_000 });
    made.push(t);
    await rejectsWith(t.connect(), 'E_CONNECTION');
  });

  it('HTTPS: no CA is E_HOST_KEY; plain webdav:// to an HTTPS port fails; insecure works and warns', async (ctx) => {
    const srv = await server('nginx-tls', () => startNginxDav({ tls: true } satisfies NginxDavOptions));
    if (!srv) return ctx.skip('nginx not available');
    const untrusted = target(srv, { ca: undefined }).t;
    assert.match((await rejectsWith(untrusted.connect(), 'E_HOST_KEY')).message, /certificate/);
    const plain = createTarget({ url: `webdav://sidav@127.0.0.1:${srv.port}/x`, password: srv.password, timeoutMs: 2_000 });
    made.push(plain);
    await assert.rejects(plain.connect(), TargetError);
    const warnings: string[] = [];
    const url = `${srv.url}/insecure`;
    const { webdavSettings } = await import('../../src/targets/webdav/webdav-settings.ts');
    const insecure = new WebdavTarget(webdavSettings({ url, password: srv.password, insecure: true }, new URL(url)), { logger: { warn: (m) => warnings.push(m) } });
    made.push(insecure);
    await insecure.connect();
    await insecure.put('f', bufferSource('x'), { tempPath: '.f.tmp' });
    assert.equal(readFileSync(join(srv.rootDir, 'insecure/f'), 'utf8'), 'x');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /verification is off/);
  });

  it('configured headers are sent with every request (a token-guarded origin)', async (ctx) => {
    const token = 'tok-d81c0e6b5a';
    const srv = await server('nginx-token', () => startNginxDav({ requireHeader: { name: 'X-Deploy-Token', value: token } }));
    if (!srv) return ctx.skip('nginx not available');
    const without = target(srv).t;
    await rejectsWith(without.connect(), 'E_CONFIG');
    const { t, dir } = target(srv, { headers: { 'X-Deploy-Token': token } });
    await t.connect();
    await t.mkdir('d');
    await t.put('d/f', bufferSource('with a token'), { tempPath: 'd/.f.tmp' });
    await t.rename!('d', 'e');
    assert.equal(readFileSync(join(dir, 'e/f'), 'utf8'), 'with a token');
  });

  it('connect creates a missing root path, and refuses a root that is a file', async (ctx) => {
    const srv = await server('rclone', () => startRcloneDav());
    if (!srv) return ctx.skip('rclone not available');
    const t = createTarget({ url: `${srv.url}/deep/er/root`, password: srv.password });
    made.push(t);
    await t.connect();
    assert.ok(existsSync(join(srv.rootDir, 'deep/er/root')));
    mkdirSync(join(srv.rootDir, 'plain'), { recursive: true });
    writeFileSync(join(srv.rootDir, 'plain/file'), 'x');
    const onFile = createTarget({ url: `${srv.url}/plain/file`, password: srv.password });
    made.push(onFile);
    await assert.rejects(onFile.connect(), TargetError);
  });
});
