/**
 * End to end through the CLI: the state store never claims what the target does not hold.
 *   - The target root removed while the daemon runs (alone, or with its parent: an unmounted
 *     disk): one error line, no busy loop, and the mirror rebuilt when it can be.
 *   - `once` verifies what it claims (the root and the directories it touched; the whole
 *     target with --verify) and repairs drift made behind our back.
 *   - Crashes: random churn (directories renamed while new directories appear inside them),
 *     `kill -9` at random moments, restarts: the target converges to the source exactly, with
 *     no leftover, on a local folder and on vsftpd.
 *   - A local target under load converges within a bounded time after the churn ends.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FtpTestServer } from '../servers/ftp-common.ts';
import { startVsftpd } from '../servers/vsftpd.ts';
import { Daemon, runCli, sleep, tempDir, treeDifference, waitForSame } from './harness.ts';

const work = tempDir('store-truth');
let vsftpd: Promise<FtpTestServer | undefined> | undefined;
after(async () => {
  await (await vsftpd)?.cleanup();
  work.cleanup();
});

let n = 0;
function local(name: string) {
  const base = join(work.path, `${name}-${++n}`);
  const src = join(base, 'src');
  const dst = join(base, 'mnt', 'mirror');
  mkdirSync(src, { recursive: true });
  return { base, src, dst, args: [src, dst, '--state', join(base, 'state.db')] };
}

async function ftp(name: string) {
  vsftpd ??= startVsftpd();
  const srv = await vsftpd;
  if (!srv) return undefined;
  const base = join(work.path, `${name}-${++n}`);
  const src = join(base, 'src');
  mkdirSync(src, { recursive: true });
  const remoteDir = `/truth/${name}-${n}`;
  const passwordFile = join(base, 'ftp.pass');
  writeFileSync(passwordFile, `${srv.password}\n`, { mode: 0o600 });
  const cfg = join(base, 'config.yaml');
  writeFileSync(
    cfg,
    ['syncs:', `  - source: ${JSON.stringify(src)}`, '    targets:', `      - url: ${JSON.stringify(`ftp://${srv.user}@${srv.host}:${srv.port}${remoteDir}`)}`, `        passwordFile: ${JSON.stringify(passwordFile)}`, ''].join('\n'),
  );
  return { base, src, dst: join(srv.rootDir, remoteDir), args: ['-c', cfg, '--state', join(base, 'state.db')] };
}

function seedTree(src: string): void {
  for (let i = 0; i < 3; i++) {
    mkdirSync(join(src, `d${i}`, 'sub'), { recursive: true });
    for (let j = 0; j < 4; j++) writeFileSync(join(src, `d${i}`, j % 2 ? 'sub' : '', `f${j}`), `file ${i}/${j}\n`);
  }
  writeFileSync(join(src, 'top'), 'top\n');
  // An hour old: records of them are not racy, so a second run trusts them (and only a
  // verification can tell that the target lost one).
  const old = Date.now() / 1000 - 3600;
  for (const dir of dirsOf(src)) for (const e of readdirSync(join(src, dir), { withFileTypes: true })) if (e.isFile()) utimesSync(join(src, dir, e.name), old, old);
}

/** CPU time (user + system, in seconds) the process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

describe('e2e: the target root vanishes while running', { concurrency: 1, timeout: 120_000 }, () => {
  it('removed: it is created again and the whole mirror is sent again, with one error line', async () => {
    const p = local('root-removed');
    seedTree(p.src);
    const d = await Daemon.start(p.args);
    try {
      await waitForSame(p.src, p.dst, 30_000, d);
      rmSync(p.dst, { recursive: true });
      writeFileSync(join(p.src, 'after'), 'written after the root was removed\n');
      await waitForSame(p.src, p.dst, 30_000, d);
      assert.equal(d.output.match(/target unavailable: the target root/g)?.length, 1, d.output);
    } finally {
      await d.stop();
    }
  });

  it('gone with its parent (an unmounted disk): no busy loop, nothing created in its place, rebuilt when it is back', async () => {
    const p = local('root-unmounted');
    seedTree(p.src);
    const d = await Daemon.start(p.args);
    try {
      await waitForSame(p.src, p.dst, 30_000, d);
      const mount = join(p.base, 'mnt');
      renameSync(mount, `${mount}.away`);
      writeFileSync(join(p.src, 'while-away'), 'queued\n');
      await d.waitFor(/target root/, 10_000);
      const cpuBefore = cpuSeconds(d.child.pid!);
      await sleep(3_000);
      const cpu = cpuSeconds(d.child.pid!) - cpuBefore;
      assert.ok(cpu < 0.5, `the daemon waits, it does not spin: ${cpu.toFixed(2)} s of CPU in 3 s`);
      assert.ok(!existsSync(mount), 'the mount point was not created');
      assert.equal(d.output.match(/target root/g)?.length, 1, `one line while it is gone:\n${d.output}`);
      // Back, with a file removed meanwhile: what is there is verified, the rest sent.
      rmSync(join(`${mount}.away`, 'mirror', 'd1', 'f0'));
      renameSync(`${mount}.away`, mount);
      await waitForSame(p.src, p.dst, 90_000, d);
    } finally {
      await d.stop();
    }
  });
});

describe('e2e: once verifies what it claims', { concurrency: 1, timeout: 120_000 }, () => {
  it('a target root removed between two runs: once rebuilds it and exits 0', async () => {
    const p = local('once-root');
    seedTree(p.src);
    assert.equal((await runCli(['once', ...p.args])).code, 0);
    rmSync(p.dst, { recursive: true });
    const r = await runCli(['once', ...p.args]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await treeDifference(p.src, p.dst), undefined);
  });

  it('a file removed from the root on the target: found by the root listing, repaired', async () => {
    const p = local('once-top');
    seedTree(p.src);
    assert.equal((await runCli(['once', ...p.args])).code, 0);
    rmSync(join(p.dst, 'top'));
    const r = await runCli(['once', ...p.args]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /"top": file missing on the target/);
    assert.equal(await treeDifference(p.src, p.dst), undefined);
  });

  it('--verify: files deleted or rewritten deeper on the target are repaired; without it, they are not looked at', async () => {
    const p = local('once-verify');
    seedTree(p.src);
    assert.equal((await runCli(['once', ...p.args])).code, 0);
    rmSync(join(p.dst, 'd2', 'sub', 'f1'));
    writeFileSync(join(p.dst, 'd0', 'f0'), 'rewritten on the target, longer\n');
    rmSync(join(p.dst, 'd1'), { recursive: true });
    const plain = await runCli(['once', ...p.args]);
    assert.equal(plain.code, 0, plain.stdout + plain.stderr);
    assert.notEqual(await treeDifference(p.src, p.dst), undefined, 'a plain once trusts the store below the directories it touched');
    const r = await runCli(['once', '--verify', ...p.args]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await treeDifference(p.src, p.dst), undefined, r.stdout);
  });

  it('drift that cannot be repaired (a folder put where our file was): exit 1, naming it', async () => {
    const p = local('once-stuck');
    seedTree(p.src);
    assert.equal((await runCli(['once', ...p.args])).code, 0);
    rmSync(join(p.dst, 'top'));
    mkdirSync(join(p.dst, 'top', 'theirs'), { recursive: true });
    const r = await runCli(['once', ...p.args]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /"top"/);
  });
});

// ---- crashes under churn ---------------------------------------------------------------

/** mulberry32: a small seeded generator, so a failing round can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every directory under `root` (relative paths, '' first). */
function dirsOf(root: string, rel = ''): string[] {
  const out = [rel];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) if (e.isDirectory()) out.push(...dirsOf(root, rel === '' ? e.name : `${rel}/${e.name}`));
  return out;
}

/**
 * Random churn on the source until `until()` says stop: new directory chains appear inside
 * directories that are renamed a moment later, files are written, directories moved and
 * removed. Returns the number of operations done.
 */
async function churn(src: string, random: () => number, until: () => boolean): Promise<number> {
  let ops = 0;
  let names = 0;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  while (!until()) {
    const dirs = dirsOf(src);
    const dir = pick(dirs);
    const name = `n${++names}-${Math.floor(random() * 1e6).toString(36)}`;
    const r = random();
    try {
      if (r < 0.35) {
        // A chain of new directories inside `dir`, then `dir` renamed while they appear.
        const depth = 1 + Math.floor(random() * 15);
        const chain = Array.from({ length: depth }, (_, i) => `c${i}`).join('/');
        mkdirSync(join(src, dir, name, chain), { recursive: true });
        if (random() < 0.5) writeFileSync(join(src, dir, name, chain, 'leaf'), `${name}\n`);
        if (dir !== '') renameSync(join(src, dir), join(src, `${dir}.r${names}`));
      } else if (r < 0.6) {
        writeFileSync(join(src, dir, name), `${name} ${'x'.repeat(Math.floor(random() * 2000))}\n`);
      } else if (r < 0.8 && dir !== '') {
        const to = pick(dirs.filter((d) => d !== dir && !d.startsWith(`${dir}/`)));
        renameSync(join(src, dir), join(src, to, name));
      } else if (r < 0.9 && dir !== '' && dirs.length > 8) {
        rmSync(join(src, dir), { recursive: true });
      } else {
        mkdirSync(join(src, dir, name));
      }
      ops++;
    } catch {
      // A path that moved under us: the next operation picks again.
    }
    if (random() < 0.3) await sleep(Math.floor(random() * 8));
  }
  return ops;
}

/**
 * Rounds of: the daemon running under churn, `kill -9` at a random moment, a restart, and
 * the exact comparison once it is idle (treeDifference compares every name: a leftover
 * directory or temp file fails it).
 */
async function crashRounds(p: { src: string; dst: string; args: string[] }, seed: number, rounds: number, convergeMs: number): Promise<void> {
  const random = rng(seed);
  seedTree(p.src);
  for (let round = 0; round < rounds; round++) {
    const d = await Daemon.start(p.args);
    const killAt = Date.now() + 100 + Math.floor(random() * 900);
    let killed = false;
    const churning = churn(p.src, random, () => killed);
    while (Date.now() < killAt) await sleep(5);
    await d.stop('SIGKILL');
    killed = true;
    await churning;
    const again = await Daemon.start(p.args);
    try {
      await waitForSame(p.src, p.dst, convergeMs, again);
    } catch (err) {
      throw new Error(`seed ${seed}, round ${round}: ${(err as Error).message}\n--- killed daemon (tail) ---\n${d.output.slice(-3000)}`);
    } finally {
      await again.stop();
    }
  }
}

const SEED = Number(process.env.STORE_TRUTH_SEED ?? 20261203);

describe('e2e: kill -9 under churn, restart: the target matches the source exactly', { concurrency: 1, timeout: 600_000 }, () => {
  // Found here: a restart after kill -9 under churn whose plan swapped two directories'
  // nesting through a new directory (core/plan.ts waitsForAncestorMove) never converged.
  it('local folder', async () => {
    const p = local('crash-local');
    await crashRounds(p, SEED, 6, 60_000);
  });

  it('vsftpd', async (ctx) => {
    const p = await ftp('crash-vsftpd');
    if (!p) return ctx.skip('vsftpd not available');
    await crashRounds(p, SEED + 1, 4, 120_000);
  });
});

describe('e2e: a local target under load converges after a random churn ends', { timeout: 300_000 }, () => {
  it('within 30 s', async (t) => {
    const p = local('load');
    seedTree(p.src);
    const d = await Daemon.start(p.args);
    try {
      const random = rng(SEED + 2);
      const stopAt = Date.now() + 4_000;
      // Two writers at once, plus many files in one burst: the daemon is busy throughout.
      await Promise.all([
        churn(p.src, random, () => Date.now() > stopAt),
        churn(p.src, rng(SEED + 3), () => Date.now() > stopAt),
        (async () => {
          mkdirSync(join(p.src, 'burst'));
          for (let i = 0; i < 2_000; i++) writeFileSync(join(p.src, 'burst', `f${i}`), `burst ${i}\n`);
        })(),
      ]);
      const took = await waitForSame(p.src, p.dst, 30_000, d);
      t.diagnostic(`converged ${took} ms after the churn ended`);
    } finally {
      await d.stop();
    }
  });
});
