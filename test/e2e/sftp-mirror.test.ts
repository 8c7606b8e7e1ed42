/**
 * End to end through the CLI against a real OpenSSH sshd on loopback: the churn cases of the
 * core issue, and the faults of issue 4 (server stopped mid-burst, wrong host key, wrong key).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSshd, SSH_KEYGEN, type SshdServer } from '../servers/sshd.ts';
import { Daemon, sleep, tempDir, waitForSame } from './harness.ts';
import { describeMirrorCases, describeOnceAndCheck } from './mirror-cases.ts';

let server: SshdServer | undefined;
let serverTried = false;
const work = tempDir('sftp-e2e');

async function sshd(): Promise<SshdServer | undefined> {
  if (!serverTried) {
    serverTried = true;
    server = await startSshd();
  }
  return server;
}

after(async () => {
  await server?.cleanup();
  work.cleanup();
});

let n = 0;
/** A fresh source and remote folder, and a config for them; `target` overrides target keys. */
function prepare(name: string, srv: SshdServer, target: Record<string, string> = {}) {
  const base = join(work.path, `${name}-${++n}`);
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  mkdirSync(src, { recursive: true });
  const keys = { identityFile: srv.clientKey, knownHosts: srv.knownHosts, ...target };
  const cfg = join(base, 'config.yaml');
  writeFileSync(
    cfg,
    [
      'debounceMs: 20',
      'syncs:',
      `  - source: ${JSON.stringify(src)}`,
      '    targets:',
      `      - url: ${JSON.stringify(`sftp://${srv.user}@127.0.0.1:${srv.port}${dst}`)}`,
      ...Object.entries(keys).map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`),
      '',
    ].join('\n'),
  );
  return { src, dst, args: ['-c', cfg, '--state', join(base, 'state.db')] };
}

describeMirrorCases({
  label: 'SFTP (OpenSSH sshd)',
  symlinks: true,
  byteNames: true,
  async open(name) {
    const srv = await sshd();
    if (!srv) return undefined;
    const p = prepare(name, srv);
    const daemon = await Daemon.start(p.args);
    return { env: p, daemon, close: async () => undefined };
  },
});

describeOnceAndCheck('SFTP', async () => {
  const srv = await sshd();
  return srv ? prepare('check', srv) : undefined;
}, { byteNames: true });

describe('e2e faults: SFTP', { concurrency: 1 }, () => {
  before(async () => {
    await sshd();
  });

  it('sshd stopped in the middle of a burst and started again: converges, nothing lost, no temp file left', async (ctx) => {
    const srv = await sshd();
    if (!srv) return ctx.skip('sshd not available');
    const p = prepare('restart', srv);
    const d = await Daemon.start(p.args);
    try {
      for (let i = 0; i < 20; i++) {
        mkdirSync(join(p.src, `d${i}`));
        for (let j = 0; j < 100; j++) writeFileSync(join(p.src, `d${i}`, `f${j}`), Buffer.alloc(8192 + j, i));
      }
      await d.waitFor(/put "/, 20_000);
      await srv.stop();
      writeFileSync(join(p.src, 'during-outage'), 'queued while the server is down');
      await d.waitFor(/target unavailable|failed/, 20_000);
      await sleep(500);
      await srv.start();
      // waitForSame compares every name, so a leftover temp file would show as a difference.
      await waitForSame(p.src, p.dst, 90_000, d);
    } finally {
      await d.stop();
    }
  });

  it('a wrong host key is refused: the target pauses, shows the offered fingerprint, and nothing is written', async (ctx) => {
    const srv = await sshd();
    if (!srv) return ctx.skip('sshd not available');
    const other = join(work.path, 'other-host-key');
    execFileSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrongKnownHosts = join(work.path, 'wrong_known_hosts');
    const pub = execFileSync(SSH_KEYGEN, ['-y', '-f', other]).toString().trim();
    writeFileSync(wrongKnownHosts, `[127.0.0.1]:${srv.port} ${pub}\n`);
    const p = prepare('hostkey', srv, { knownHosts: wrongKnownHosts });
    writeFileSync(join(p.src, 'f'), 'must not arrive');
    const d = await Daemon.start(p.args);
    try {
      await d.waitFor(/paused: /, 15_000);
      assert.ok(d.output.includes(srv.hostKeyFingerprint), `the offered fingerprint is shown:\n${d.output}`);
      assert.equal(existsSync(p.dst), false, 'nothing was written on the server');
    } finally {
      await d.stop();
    }
  });

  it('the source emptied while running: halted, nothing deleted on the SFTP target', async (ctx) => {
    const srv = await sshd();
    if (!srv) return ctx.skip('sshd not available');
    const p = prepare('emptied', srv);
    mkdirSync(join(p.src, 'sub'));
    for (let i = 0; i < 10; i++) writeFileSync(join(p.src, i % 2 ? 'sub' : '', `f${i}`), `${i}`);
    const d = await Daemon.start(p.args);
    try {
      await waitForSame(p.src, p.dst, 30_000, d);
      for (const name of readdirSync(p.src)) rmSync(join(p.src, name), { recursive: true });
      await d.waitFor(/halted, nothing deleted: the source folder is empty/, 15_000);
      await sleep(1_500);
      assert.equal(readdirSync(p.dst).length, 6, `entries were deleted on the target:\n${d.output.slice(-2000)}`);
      assert.equal(readdirSync(join(p.dst, 'sub')).length, 5);
    } finally {
      await d.stop();
    }
  });

  it('a key the server does not accept: clear error, target paused, login attempts bounded', async (ctx) => {
    const srv = await sshd();
    if (!srv) return ctx.skip('sshd not available');
    const stranger = join(work.path, 'stranger-key');
    execFileSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const p = prepare('badkey', srv, { identityFile: stranger });
    writeFileSync(join(p.src, 'f'), 'x');
    const before = (srv.log().match(/Connection (closed|reset) by authenticating user|Failed publickey|Invalid user/g) ?? []).length;
    const d = await Daemon.start(p.args);
    try {
      await d.waitFor(/paused: .*(auth|login|rejected)/i, 15_000);
      await sleep(3_000);
      const attempts = (srv.log().match(/Connection (closed|reset) by authenticating user|Failed publickey|Invalid user/g) ?? []).length - before;
      assert.ok(attempts <= 2, `at most 2 login attempts in 3 s, saw ${attempts}`);
      assert.equal(existsSync(p.dst) && readdirSync(p.dst).length > 0, false);
    } finally {
      await d.stop();
    }
  });

  it('a path the server refuses backs off on its own: the other files keep arriving within seconds', async (ctx) => {
    const srv = await sshd();
    if (!srv) return ctx.skip('sshd not available');
    const p = prepare('path-backoff', srv);
    writeFileSync(join(p.src, 'first'), '1');
    const d = await Daemon.start(p.args);
    try {
      await waitForSame(p.src, p.dst, 20_000, d);
      // Someone else's directory where the source has a file: the server refuses that path
      // only (the rename over it fails: E_EXISTS), and it must not be touched.
      mkdirSync(join(p.dst, 'blocked'));
      writeFileSync(join(p.dst, 'blocked', 'theirs'), 'keep');
      writeFileSync(join(p.src, 'blocked'), 'mine');
      const failures = () => (d.output.match(/put "blocked" failed/g) ?? []).length;
      const deadline = Date.now() + 30_000;
      // Four failures in a row: a backoff of the whole target would now wait 4 to 8 s.
      while (failures() < 4) {
        assert.ok(Date.now() < deadline, `the refused path was not retried 4 times:\n${d.output.slice(-3000)}`);
        await sleep(50);
      }
      const startedAt = Date.now();
      for (let i = 0; i < 5; i++) {
        writeFileSync(join(p.src, `later-${i}`), `later ${i}`);
        await sleep(100);
      }
      const arrived = () => Array.from({ length: 5 }, (_, i) => existsSync(join(p.dst, `later-${i}`)) && readFileSync(join(p.dst, `later-${i}`), 'utf8') === `later ${i}`).every(Boolean);
      while (!arrived()) {
        assert.ok(Date.now() - startedAt < 4_000, `the other files waited for the refused one: not there after 4 s\n${d.output.slice(-3000)}`);
        await sleep(25);
      }
      // The refused path is retried, but spaced: not in a loop.
      assert.ok(failures() <= 6, `${failures()} attempts on the refused path`);
      assert.equal(readFileSync(join(p.dst, 'blocked', 'theirs'), 'utf8'), 'keep', 'the directory in the way is not ours: left alone');
      // Once the way is clear, a change of the file retries it at once (not after its backoff).
      rmSync(join(p.dst, 'blocked'), { recursive: true });
      writeFileSync(join(p.src, 'blocked'), 'mine, again');
      await waitForSame(p.src, p.dst, 5_000, d);
    } finally {
      await d.stop();
    }
  });
});

