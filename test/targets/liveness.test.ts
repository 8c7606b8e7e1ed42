/**
 * Liveness: a connection whose TCP path goes silent (no reset, no close) is noticed within
 * the target's `timeoutMs`, `status` says so, and everything converges once the path is back.
 * The engine (TargetSync) drives a real target through a stalling proxy to a real server.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPathFilter } from '../../src/core/filter.ts';
import { Scanner } from '../../src/engine/scanner.ts';
import { TargetSync } from '../../src/engine/target-sync.ts';
import { createLogger } from '../../src/log/logger.ts';
import { SqliteStore } from '../../src/state/sqlite-store.ts';
import { createTarget } from '../../src/targets/registry.ts';
import type { TargetSpec } from '../../src/targets/spec.ts';
import { treeDifference } from '../e2e/harness.ts';
import type { FtpTestServer } from '../servers/ftp-common.ts';
import { startSshd, type SshdServer } from '../servers/sshd.ts';
import { startVsftpd } from '../servers/vsftpd.ts';
import { startStallingProxy, type StallingProxy } from '../servers/stalling-proxy.ts';

const work = mkdtempSync(join(tmpdir(), 'si-liveness-'));
chmodSync(work, 0o755);
after(() => rmSync(work, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, test: () => boolean | Promise<boolean>, timeoutMs: number, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await sleep(25);
  }
}

/** A TargetSync from `src` to the target at `spec`, logging into `lines`. */
function engine(name: string, spec: TargetSpec) {
  const src = join(work, name, 'src');
  mkdirSync(src, { recursive: true });
  const lines: string[] = [];
  const sync = new TargetSync({
    sourceRoot: src,
    target: createTarget(spec),
    store: new SqliteStore(join(work, name, 'state.db')),
    scanner: new Scanner({ root: src, filter: createPathFilter({ exclude: [], include: [], ignoreEditorFiles: true, alwaysExcluded: [] }), types: {} }),
    logger: createLogger((level, line) => lines.push(`${level} ${line}`), 'debug'),
    concurrency: 4,
    debounceMs: 10,
    debounceMaxMs: 100,
    recursiveRemove: false,
  });
  return { src, sync, lines };
}

/**
 * The scenario, the same for every protocol: a file reaches the target; the path stalls and
 * another file is written; the op fails with E_TIMEOUT in about `timeoutMs` and `status`
 * says `retrying` with that error; the path resumes and the target converges.
 */
async function stallScenario(name: string, proxy: StallingProxy, spec: TargetSpec, dst: string, timeoutMs: number): Promise<void> {
  const { src, sync, lines } = engine(name, spec);
  // LIVENESS_DEBUG=1 shows the debug lines too when a test fails.
  const log = () => (process.env['LIVENESS_DEBUG'] ? lines : lines.filter((l) => !l.startsWith('debug'))).join('\n');
  try {
    writeFileSync(join(src, 'a.txt'), 'a');
    sync.hint([{ path: '', deep: true }]);
    await until('the first file', async () => (await treeDifference(src, dst)) === undefined, 20_000, log);
    assert.equal(sync.status().state, 'ok');

    proxy.stall();
    const acceptedAtStall = proxy.accepted;
    const stalledAt = Date.now();
    writeFileSync(join(src, 'b.txt'), 'b'.repeat(100_000));
    sync.hint([{ path: 'b.txt', deep: false }]);
    await until('status to say retrying', () => sync.status().state === 'retrying', timeoutMs * 10, log);
    const noticedMs = Date.now() - stalledAt;
    const status = sync.status();
    assert.match(status.lastError?.message ?? '', /no answer|timed out|timeout/i, JSON.stringify(status));
    // Noticed on the stalled connection itself: not after retries on new connections that
    // stall too (each another timeoutMs). Before, that took three timeouts or more.
    assert.ok(proxy.accepted - acceptedAtStall <= 1, `${proxy.accepted - acceptedAtStall} new connections before the stall was reported\n${log()}`);
    assert.ok(noticedMs < timeoutMs * 3, `noticed after ${noticedMs} ms with timeoutMs ${timeoutMs}\n${log()}`);
    assert.equal(lines.filter((l) => l.startsWith('error') && l.includes('target unavailable')).length <= 1, true, log());

    proxy.resume();
    await until('convergence after the stall', async () => (await treeDifference(src, dst)) === undefined, 60_000, log);
    await until('status ok', () => sync.status().state === 'ok', 10_000, log);
    assert.equal(readFileSync(join(dst, 'b.txt'), 'utf8').length, 100_000);
    assert.match(log(), /reachable again/);
  } finally {
    proxy.resume();
    await sync.stop();
  }
}

describe('liveness: a stalled SFTP connection', { timeout: 120_000 }, () => {
  let sshd: SshdServer | undefined;
  let proxy: StallingProxy | undefined;
  let savedAgent: string | undefined;
  before(async () => {
    savedAgent = process.env['SSH_AUTH_SOCK'];
    delete process.env['SSH_AUTH_SOCK'];
    sshd = await startSshd();
    if (sshd) proxy = await startStallingProxy(sshd.port);
  });
  after(async () => {
    await proxy?.close();
    await sshd?.cleanup();
    if (savedAgent !== undefined) process.env['SSH_AUTH_SOCK'] = savedAgent;
  });

  it('fails the op with E_TIMEOUT within timeoutMs, status says retrying, converges after', async (ctx) => {
    if (!sshd || !proxy) return ctx.skip('sshd not available');
    const dst = join(work, 'sftp-dst');
    mkdirSync(dst);
    const timeoutMs = 1_500;
    const spec: TargetSpec = { url: `sftp://${sshd.user}@127.0.0.1:${proxy.port}${dst}`, identityFile: sshd.clientKey, hostKey: sshd.hostKeyFingerprint, timeoutMs, connections: 1 };
    await stallScenario('sftp', proxy, spec, dst, timeoutMs);
  });
});

describe('liveness: a stalled FTP control connection', { timeout: 120_000 }, () => {
  let server: FtpTestServer | undefined;
  let proxy: StallingProxy | undefined;
  before(async () => {
    server = await startVsftpd();
    if (server) proxy = await startStallingProxy(server.port);
  });
  after(async () => {
    await proxy?.close();
    await server?.cleanup();
  });

  it('fails the op with E_TIMEOUT within timeoutMs, status says retrying, converges after', async (ctx) => {
    if (!server || !proxy) return ctx.skip('vsftpd not available');
    const timeoutMs = 1_500;
    const spec: TargetSpec = { url: `ftp://${server.user}@127.0.0.1:${proxy.port}/`, password: server.password, timeoutMs, connections: 1 };
    await stallScenario('ftp', proxy, spec, server.rootDir, timeoutMs);
  });
});
