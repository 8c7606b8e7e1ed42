/**
 * End to end through the CLI against real vsftpd and pure-ftpd on loopback: the churn cases
 * of the core issue on both servers, and the faults of issue 3 (server stopped mid-burst,
 * wrong password, a server that allows only 2 connections).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FtpTestServer } from '../servers/ftp-common.ts';
import { startPureFtpd } from '../servers/pure-ftpd.ts';
import { startVsftpd } from '../servers/vsftpd.ts';
import { Daemon, runCli, sleep, tempDir, treeDifference, waitForSame } from './harness.ts';
import { describeMirrorCases, describeOnceAndCheck } from './mirror-cases.ts';

const work = tempDir('ftp-e2e');
const servers: FtpTestServer[] = [];
after(async () => {
  for (const s of servers) await s.cleanup();
  work.cleanup();
});

/** Starts a server once per key, on first use. */
const started = new Map<string, Promise<FtpTestServer | undefined>>();
function server(key: string, start: () => Promise<FtpTestServer | undefined>): Promise<FtpTestServer | undefined> {
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
/** A fresh source and remote folder and a config for them; the password goes in a file. */
function prepare(name: string, srv: FtpTestServer, target: Record<string, string | number> = {}) {
  const base = join(work.path, `${name}-${++n}`);
  const src = join(base, 'src');
  mkdirSync(src, { recursive: true });
  const remoteDir = `/e2e/${name}-${n}`;
  const passwordFile = join(base, 'ftp.pass');
  writeFileSync(passwordFile, `${srv.password}\n`, { mode: 0o600 });
  const keys: Record<string, string | number> = { passwordFile, ...target };
  const cfg = join(base, 'config.yaml');
  writeFileSync(
    cfg,
    [
      'syncs:',
      `  - source: ${JSON.stringify(src)}`,
      '    targets:',
      `      - url: ${JSON.stringify(`ftp://${srv.user}@${srv.host}:${srv.port}${remoteDir}`)}`,
      ...Object.entries(keys).map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`),
      '',
    ].join('\n'),
  );
  return { src, dst: join(srv.rootDir, remoteDir), args: ['-c', cfg, '--state', join(base, 'state.db')] };
}

for (const [label, start] of [
  ['vsftpd', () => startVsftpd()],
  ['pure-ftpd', () => startPureFtpd()],
] as const) {
  describeMirrorCases({
    label: `FTP (${label})`,
    symlinks: false,
    byteNames: true,
    // Refused by the FTP target as E_NAME (see assertSendable): control characters, trailing space.
    // eslint-disable-next-line no-control-regex
    refusedNames: /[\x00-\x1f]| $/,
    async open(name) {
      const srv = await server(label, start);
      if (!srv) return undefined;
      const p = prepare(name, srv);
      const daemon = await Daemon.start(p.args);
      return { env: p, daemon, close: async () => undefined };
    },
  });
}

describe('e2e first push: FTP', { concurrency: 1 }, () => {
  for (const [label, start] of [
    ['vsftpd', () => startVsftpd()],
    ['pure-ftpd', () => startPureFtpd()],
  ] as const) {
    it(`${label}: each new directory of files is written under a temp name and published whole`, async (ctx) => {
      const srv = await server(label, start);
      if (!srv) return ctx.skip(`${label} not available`);
      const p = prepare('staged', srv);
      for (let i = 0; i < 4; i++) {
        mkdirSync(join(p.src, `d${i}`, 'sub'), { recursive: true });
        for (let j = 0; j < 10; j++) writeFileSync(join(p.src, `d${i}`, j % 2 ? 'sub' : '', `f${j}`), `file ${i}/${j}`);
      }
      writeFileSync(join(p.src, 'alone'), 'one file at the top');
      const once = await runCli(['once', ...p.args]);
      assert.equal(once.code, 0, once.stdout + once.stderr);
      assert.equal((await treeDifference(p.src, p.dst)) ?? '', '', 'the same tree, and no temp name left');
      const published = [...once.stdout.matchAll(/^\S+ publish "([^"]+)" \((\d+) files\)$/gm)].map((m) => `${m[1]}:${m[2]}`).sort();
      assert.deepEqual(published, ['d0/sub:5', 'd0:5', 'd1/sub:5', 'd1:5', 'd2/sub:5', 'd2:5', 'd3/sub:5', 'd3:5'].sort());
      assert.match(once.stdout, /mkdir "d0" \(staged\)/);
    });
  }
});

describeOnceAndCheck('FTP (vsftpd)', async () => {
  const srv = await server('vsftpd-faults', () => startVsftpd());
  return srv ? prepare('check', srv) : undefined;
}, { byteNames: true });

/**
 * Stops the server once the daemon has sent a file, runs `meanwhile`, starts the server again
 * and waits until the target equals the source: nothing lost, and no temp file left (the
 * comparison covers every name).
 */
async function outageDuringPush(srv: FtpTestServer, d: Daemon, p: { src: string; dst: string }, meanwhile: () => void = () => undefined): Promise<void> {
  await d.waitFor(/put "/, 20_000);
  await srv.stop();
  meanwhile();
  await d.waitFor(/target unavailable|failed/, 30_000);
  await sleep(500);
  await srv.start();
  await waitForSame(p.src, p.dst, 120_000, d);
}

describe('e2e faults: FTP', { concurrency: 1 }, () => {
  it('the server stopped in the middle of a burst and started again: converges, nothing lost, no temp file left', async (ctx) => {
    const srv = await server('vsftpd-faults', () => startVsftpd());
    if (!srv) return ctx.skip('vsftpd not available');
    const p = prepare('restart', srv);
    const d = await Daemon.start(p.args);
    try {
      for (let i = 0; i < 10; i++) {
        mkdirSync(join(p.src, `d${i}`));
        for (let j = 0; j < 100; j++) writeFileSync(join(p.src, `d${i}`, `f${j}`), Buffer.alloc(4096 + j, i));
      }
      await outageDuringPush(srv, d, p, () => writeFileSync(join(p.src, 'during-outage'), 'queued while the server is down'));
    } finally {
      await d.stop();
    }
  });

  it('the server stopped in the middle of a first push (planned while scanning) and started again: converges', async (ctx) => {
    const srv = await server('vsftpd-faults', () => startVsftpd());
    if (!srv) return ctx.skip('vsftpd not available');
    const p = prepare('first-push-restart', srv);
    for (let i = 0; i < 10; i++) {
      mkdirSync(join(p.src, `d${i}`, 'sub'), { recursive: true });
      for (let j = 0; j < 100; j++) writeFileSync(join(p.src, `d${i}`, j % 2 ? 'sub' : '', `f${j}`), Buffer.alloc(4096 + j, i));
    }
    const d = await Daemon.start(p.args);
    try {
      await outageDuringPush(srv, d, p);
    } finally {
      await d.stop();
    }
  });

  it('a wrong password: clear error, target paused, one login attempt, password never shown', async (ctx) => {
    const srv = await server('vsftpd-faults', () => startVsftpd());
    if (!srv) return ctx.skip('vsftpd not available');
    const wrong = 'Wr0ng-pa55word-zz';
    const p = prepare('badpass', srv, { password: wrong });
    // The config's password wins over the (correct) password file.
    writeFileSync(join(p.src, 'f'), 'x');
    const d = await Daemon.start(p.args);
    try {
      await d.waitFor(/paused: /, 30_000);
      await sleep(3_000);
      const attempts = d.output.match(/paused: /g)?.length ?? 0;
      assert.equal(attempts, 1, `one login attempt in the first seconds, saw ${attempts}:\n${d.output}`);
      assert.match(d.output, /retrying in \d/);
      assert.equal(d.output.includes(wrong), false, 'the password never appears');
    } finally {
      await d.stop();
    }
  });

  it('a name FTP cannot carry is a per-path problem in the log; the rest is mirrored', async (ctx) => {
    const srv = await server('vsftpd-faults', () => startVsftpd());
    if (!srv) return ctx.skip('vsftpd not available');
    const p = prepare('badname', srv);
    const d = await Daemon.start(p.args);
    try {
      writeFileSync(join(p.src, 'line\nbreak'), 'x');
      writeFileSync(join(p.src, 'fine'), 'y');
      await d.waitFor(/"line\\nbreak".*cannot carry control characters/, 20_000);
      await d.waitFor(/put "fine"/, 20_000);
      assert.equal(readFileSync(join(p.dst, 'fine'), 'utf8'), 'y');
    } finally {
      await d.stop();
    }
  });

  it('a server that allows only 2 connections works with the default pool of 4', async (ctx) => {
    const srv = await server('vsftpd-two', () => startVsftpd({ maxPerIp: 2 }));
    if (!srv) return ctx.skip('vsftpd not available');
    const p = prepare('two', srv);
    const d = await Daemon.start(p.args);
    try {
      for (let i = 0; i < 5; i++) {
        mkdirSync(join(p.src, `d${i}`));
        for (let j = 0; j < 40; j++) writeFileSync(join(p.src, `d${i}`, `f${j}`), `file ${i}/${j}`);
      }
      await waitForSame(p.src, p.dst, 60_000, d);
    } finally {
      await d.stop();
    }
  });
});
