/**
 * End to end through the CLI against the rsync target, both transports: the shared churn
 * cases (mirror-cases.ts) over a private rsync daemon and over rsync+ssh to the private sshd;
 * then the faults: the daemon killed mid-burst and started again, a wrong daemon password,
 * sync-inotify itself killed (-9) mid-burst over each transport, an unknown SSH host key, and
 * the delta transfer of a large file changed in the middle.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startRsyncd, type RsyncdServer } from '../servers/rsyncd.ts';
import { startSshd, SSH_KEYGEN, type SshdServer } from '../servers/sshd.ts';
import { Daemon, sleep, tempDir, waitForSame } from './harness.ts';
import { describeMirrorCases, describeOnceAndCheck } from './mirror-cases.ts';

let rsyncd: Promise<RsyncdServer | undefined> | undefined;
let sshd: Promise<SshdServer | undefined> | undefined;
const work = tempDir('rsync-e2e');
const daemonServer = () => (rsyncd ??= startRsyncd());
const sshServer = () => (sshd ??= startSshd());

after(async () => {
  await (await rsyncd)?.cleanup();
  await (await sshd)?.cleanup();
  work.cleanup();
});

let n = 0;
function writeConfig(base: string, src: string, url: string, keys: Record<string, string>): string[] {
  const cfg = join(base, 'config.yaml');
  writeFileSync(
    cfg,
    [
      'debounceMs: 20',
      'syncs:',
      `  - source: ${JSON.stringify(src)}`,
      '    targets:',
      `      - url: ${JSON.stringify(url)}`,
      ...Object.entries(keys).map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`),
      '',
    ].join('\n'),
  );
  return ['-c', cfg, '--state', join(base, 'state.db')];
}

/** A fresh source and a folder in the daemon's module. */
function prepareDaemon(name: string, srv: RsyncdServer, keys: Record<string, string> = {}) {
  const base = join(work.path, `${name}-${++n}`);
  const src = join(base, 'src');
  mkdirSync(src, { recursive: true });
  const rel = `${name}-${n}`;
  const dst = join(srv.moduleDir, rel);
  return { src, dst, args: writeConfig(base, src, srv.url(rel), { password: srv.password, ...keys }) };
}

function prepareSsh(name: string, srv: SshdServer, keys: Record<string, string> = {}) {
  const base = join(work.path, `${name}-${++n}`);
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  mkdirSync(src, { recursive: true });
  return { src, dst, args: writeConfig(base, src, `rsync+ssh://${srv.user}@127.0.0.1:${srv.port}${dst}`, { identityFile: srv.clientKey, knownHosts: srv.knownHosts, ...keys }) };
}

describeMirrorCases({
  label: 'rsync daemon',
  symlinks: true,
  byteNames: true,
  renames: false,
  async open(name) {
    const srv = await daemonServer();
    if (!srv) return undefined;
    const p = prepareDaemon(name, srv);
    return { env: p, daemon: await Daemon.start(p.args), close: async () => undefined };
  },
});

describeMirrorCases({
  label: 'rsync+ssh (OpenSSH sshd)',
  symlinks: true,
  byteNames: true,
  async open(name) {
    const srv = await sshServer();
    if (!srv) return undefined;
    const p = prepareSsh(name, srv);
    return { env: p, daemon: await Daemon.start(p.args), close: async () => undefined };
  },
});

describeOnceAndCheck('rsync+ssh', async () => {
  const srv = await sshServer();
  return srv ? prepareSsh('check', srv) : undefined;
}, { byteNames: true });

describe('e2e faults: rsync', { concurrency: 1 }, () => {
  it('the rsync daemon killed in the middle of a burst and started again: converges, nothing lost, no temp file left', async (ctx) => {
    const srv = await daemonServer();
    if (!srv) return ctx.skip('rsync daemon not available');
    const p = prepareDaemon('killed', srv);
    const d = await Daemon.start(p.args);
    try {
      for (let i = 0; i < 20; i++) {
        mkdirSync(join(p.src, `d${i}`));
        for (let j = 0; j < 100; j++) writeFileSync(join(p.src, `d${i}`, `f${j}`), Buffer.alloc(8192 + j, i));
      }
      await d.waitFor(/put "/, 20_000);
      await srv.stop();
      writeFileSync(join(p.src, 'during-outage'), 'queued while the server is down');
      await d.waitFor(/target unavailable|failed|retrying/, 20_000);
      await sleep(500);
      await srv.start();
      // waitForSame compares every name, so a leftover rsync temp file would show as a difference.
      await waitForSame(p.src, p.dst, 90_000, d);
    } finally {
      await d.stop();
    }
  });

  // kill -9 of sync-inotify itself while its rsync calls are in flight, then a restart: the
  // store's intents (uncertain records) are settled by looking, nothing is lost or left over.
  for (const transport of ['daemon', 'ssh'] as const) {
    it(`kill -9 mid-burst (rsync ${transport}), changes while down, restart: the target equals the source`, async (ctx) => {
      const p = transport === 'daemon' ? await daemonServer().then((srv) => srv && prepareDaemon('kill9', srv)) : await sshServer().then((srv) => srv && prepareSsh('kill9', srv));
      if (!p) return ctx.skip(`${transport} not available`);
      const d = await Daemon.start(p.args);
      let again: Daemon | undefined;
      try {
        for (let i = 0; i < 20; i++) {
          mkdirSync(join(p.src, `d${i}`, 'sub'), { recursive: true });
          for (let j = 0; j < 100; j++) writeFileSync(join(p.src, `d${i}`, j % 4 ? '' : 'sub', `f${j}`), Buffer.alloc(4096 + j, i));
        }
        await d.waitFor(/put "/, 20_000);
        await d.stop('SIGKILL');
        const landed = existsSync(p.dst) ? readdirSync(p.dst, { recursive: true }).length : 0;
        assert.ok(landed < 2_000 + 40, `killed before the burst had all landed (${landed} entries there)`);
        // While it is down: files rewritten, removed, a directory removed, new ones.
        writeFileSync(join(p.src, 'd0', 'f1'), 'rewritten while down');
        rmSync(join(p.src, 'd1', 'f2'));
        rmSync(join(p.src, 'd2'), { recursive: true });
        mkdirSync(join(p.src, 'new', 'deep'), { recursive: true });
        writeFileSync(join(p.src, 'new', 'deep', 'g'), 'made while down');
        again = await Daemon.start(p.args);
        // waitForSame compares every name and byte: a lost file or a leftover temp file fails it.
        await waitForSame(p.src, p.dst, 90_000, again);
      } finally {
        await d.stop();
        await again?.stop();
      }
    });
  }

  it('a wrong daemon password: the target pauses with a clear error, the password is never shown, nothing is written', async (ctx) => {
    const srv = await daemonServer();
    if (!srv) return ctx.skip('rsync daemon not available');
    const wrong = 'not-the-Password-7781';
    const p = prepareDaemon('badpass', srv, { password: wrong });
    writeFileSync(join(p.src, 'f'), 'must not arrive');
    const d = await Daemon.start(p.args);
    try {
      await d.waitFor(/paused: .*(auth|login)/i, 15_000);
      assert.ok(!d.output.includes(wrong), 'the password is not in the output');
      assert.equal(existsSync(join(p.dst, 'f')), false, 'nothing was written');
    } finally {
      await d.stop();
    }
  });

  it('an unknown SSH host key: the target pauses, shows the offered fingerprint, and nothing is written', async (ctx) => {
    const srv = await sshServer();
    if (!srv) return ctx.skip('sshd not available');
    const other = join(work.path, 'other-host-key');
    execFileSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrongKnownHosts = join(work.path, 'wrong_known_hosts');
    const pub = execFileSync(SSH_KEYGEN, ['-y', '-f', other]).toString().trim();
    writeFileSync(wrongKnownHosts, `[127.0.0.1]:${srv.port} ${pub}\n`);
    const empty = join(work.path, 'empty_known_hosts');
    writeFileSync(empty, '');
    for (const knownHosts of [wrongKnownHosts, empty]) {
      const p = prepareSsh('hostkey', srv, { knownHosts });
      writeFileSync(join(p.src, 'f'), 'must not arrive');
      const d = await Daemon.start(p.args);
      try {
        await d.waitFor(/paused: /, 15_000);
        assert.ok(d.output.includes(srv.hostKeyFingerprint), `the offered fingerprint is shown:\n${d.output}`);
        assert.equal(existsSync(p.dst), false, 'nothing was written on the server');
      } finally {
        await d.stop();
      }
    }
  });

  it('the source emptied while running: halted, nothing deleted on the rsync target', async (ctx) => {
    const srv = await sshServer();
    if (!srv) return ctx.skip('sshd not available');
    const p = prepareSsh('emptied', srv);
    mkdirSync(join(p.src, 'sub'));
    for (let i = 0; i < 12; i++) writeFileSync(join(p.src, i % 2 ? 'sub' : '', `f${i}`), `${i}`);
    const d = await Daemon.start(p.args);
    try {
      await waitForSame(p.src, p.dst, 30_000, d);
      execFileSync('rm', ['-rf', '--', ...readdirSync(p.src).map((x) => join(p.src, x))]);
      await d.waitFor(/halted, nothing deleted: the source folder is empty/, 15_000);
      await sleep(1_500);
      assert.equal(readdirSync(p.dst).length, 7, `entries were deleted on the target:\n${d.output.slice(-2000)}`);
    } finally {
      await d.stop();
    }
  });
});
