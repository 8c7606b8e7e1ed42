/**
 * End to end through the CLI against real WebDAV servers on loopback: the churn cases of the
 * core issue on Apache mod_dav_fs (the strict server, Digest auth), `once` and `check` on
 * Apache and nginx, a first push published as whole directories, and the faults: the server
 * stopped mid-burst, a wrong password (paused, never shown), HTTPS with a test CA (and
 * without it: paused on the certificate), a header secret masked in the output.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startApacheDav } from '../servers/apache-dav.ts';
import type { DavTestServer } from '../servers/dav-common.ts';
import { startNginxDav } from '../servers/nginx-dav.ts';
import { Daemon, runCli, sleep, tempDir, treeDifference, waitForSame } from './harness.ts';
import { describeMirrorCases, describeOnceAndCheck } from './mirror-cases.ts';

const work = tempDir('webdav-e2e');
const servers: DavTestServer[] = [];
after(async () => {
  for (const s of servers) await s.cleanup();
  work.cleanup();
});

/** Starts a server once per key, on first use. */
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
/** A fresh source and remote collection and a config for them; the password goes in a file. */
function prepare(name: string, srv: DavTestServer, target: Record<string, unknown> = {}) {
  const base = join(work.path, `${name}-${++n}`);
  const src = join(base, 'src');
  mkdirSync(src, { recursive: true });
  const remoteDir = `/e2e/${name}-${n}`;
  const passwordFile = join(base, 'dav.pass');
  writeFileSync(passwordFile, `${srv.password}\n`, { mode: 0o600 });
  const keys: Record<string, unknown> = { passwordFile, ...(srv.caFile ? { ca: srv.caFile } : {}), ...target };
  const cfg = join(base, 'config.yaml');
  writeFileSync(
    cfg,
    [
      'debounceMs: 20',
      'syncs:',
      `  - source: ${JSON.stringify(src)}`,
      '    targets:',
      `      - url: ${JSON.stringify(`${srv.url}${remoteDir}`)}`,
      ...Object.entries(keys).filter(([, v]) => v !== undefined).map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`),
      '',
    ].join('\n'),
  );
  return { src, dst: join(srv.rootDir, remoteDir), args: ['-c', cfg, '--state', join(base, 'state.db')] };
}

const apache = () => server('apache', () => startApacheDav());
const nginx = () => server('nginx', () => startNginxDav());

describeMirrorCases({
  label: 'WebDAV (Apache mod_dav_fs)',
  symlinks: false,
  byteNames: true,
  async open(name) {
    const srv = await apache();
    if (!srv) return undefined;
    const p = prepare(name, srv);
    const daemon = await Daemon.start(p.args);
    return { env: p, daemon, close: async () => undefined };
  },
});

describeOnceAndCheck('WebDAV (Apache mod_dav_fs)', async () => {
  const srv = await apache();
  return srv ? prepare('check', srv) : undefined;
}, { byteNames: true });

describeOnceAndCheck('WebDAV (nginx dav_ext)', async () => {
  const srv = await nginx();
  return srv ? prepare('check', srv) : undefined;
}, { byteNames: true });

describe('e2e first push: WebDAV', { concurrency: 1 }, () => {
  it('nginx: each new directory of files is written under a temp name and published whole, dot files too', async (ctx) => {
    const srv = await nginx();
    if (!srv) return ctx.skip('nginx not available');
    const p = prepare('staged', srv);
    for (let i = 0; i < 3; i++) {
      mkdirSync(join(p.src, `d${i}`, 'sub'), { recursive: true });
      for (let j = 0; j < 10; j++) writeFileSync(join(p.src, `d${i}`, j % 2 ? 'sub' : '', `f${j}`), `file ${i}/${j}`);
      writeFileSync(join(p.src, `d${i}`, '.hidden'), 'nginx does not list me');
    }
    const once = await runCli(['once', ...p.args]);
    assert.equal(once.code, 0, once.stdout + once.stderr);
    assert.equal((await treeDifference(p.src, p.dst)) ?? '', '', 'the same tree, and no temp name left');
    assert.match(once.stdout, /publish "d0" \(6 files\)/);
    // Deletes come from the state store: a dot file PROPFIND never shows goes too.
    rmSync(join(p.src, 'd1'), { recursive: true });
    const again = await runCli(['once', ...p.args]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal((await treeDifference(p.src, p.dst)) ?? '', '');
  });
});

describe('e2e faults: WebDAV', { concurrency: 1 }, () => {
  it('Apache stopped in the middle of a burst and started again: converges, nothing lost, no temp file left', async (ctx) => {
    const srv = await apache();
    if (!srv) return ctx.skip('apache2 not available');
    const p = prepare('restart', srv);
    const d = await Daemon.start(p.args);
    try {
      for (let i = 0; i < 10; i++) {
        mkdirSync(join(p.src, `d${i}`));
        for (let j = 0; j < 100; j++) writeFileSync(join(p.src, `d${i}`, `f${j}`), Buffer.alloc(4096 + j, i));
      }
      await d.waitFor(/put "|publish "/, 20_000);
      await srv.stop();
      writeFileSync(join(p.src, 'during-outage'), 'queued while the server is down');
      await d.waitFor(/target unavailable|failed/, 30_000);
      await sleep(500);
      await srv.start();
      await waitForSame(p.src, p.dst, 120_000, d);
    } finally {
      await d.stop();
    }
  });

  it('a wrong password: clear error, target paused, login attempts bounded, password never shown', async (ctx) => {
    const srv = await apache();
    if (!srv) return ctx.skip('apache2 not available');
    const wrong = 'Wr0ng-dav-pa55word';
    // The config's password wins over the (correct) password file.
    const p = prepare('badpass', srv, { password: wrong });
    writeFileSync(join(p.src, 'f'), 'x');
    const refusedBefore = (srv.log().match(/ sidav "[A-Z]+ [^"]*" 401/g) ?? []).length;
    const d = await Daemon.start(p.args);
    try {
      await d.waitFor(/paused: .*login rejected/, 30_000);
      await sleep(3_000);
      const pauses = d.output.match(/paused: /g)?.length ?? 0;
      assert.equal(pauses, 1, `one login attempt in the first seconds, saw ${pauses}:\n${d.output}`);
      const refused = (srv.log().match(/ sidav "[A-Z]+ [^"]*" 401/g) ?? []).length - refusedBefore;
      assert.ok(refused >= 1 && refused <= 2, `the server saw ${refused} refused logins`);
      assert.equal(d.output.includes(wrong), false, 'the password never appears');
    } finally {
      await d.stop();
    }
  });

  it('HTTPS with a test CA mirrors; without the CA the target pauses on the certificate; a header secret is masked', async (ctx) => {
    const srv = await server('nginx-tls', () => startNginxDav({ tls: true }));
    if (!srv) return ctx.skip('nginx not available');
    const secret = 'tok-3f9a1c77e2b54d08';
    const p = prepare('tls', srv, { headers: { 'X-Deploy-Token': secret } });
    mkdirSync(join(p.src, 'css'));
    writeFileSync(join(p.src, 'index.html'), '<h1>over TLS</h1>');
    writeFileSync(join(p.src, 'css', 'site.css'), 'h1 { color: teal }');
    const d = await Daemon.start([...p.args, '--debug']);
    try {
      await waitForSame(p.src, p.dst, 20_000, d);
    } finally {
      await d.stop();
    }
    assert.equal(readFileSync(join(p.dst, 'index.html'), 'utf8'), '<h1>over TLS</h1>');
    assert.equal(d.output.includes(secret), false, 'the header value never appears');

    const untrusted = prepare('tls-untrusted', srv, { ca: undefined });
    writeFileSync(join(untrusted.src, 'f'), 'must not arrive');
    const refused = await Daemon.start(untrusted.args);
    try {
      await refused.waitFor(/paused: .*certificate/i, 20_000);
    } finally {
      await refused.stop();
    }
  });
});
