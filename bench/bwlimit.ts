/**
 * Does `bwlimit` hold? Pushes 20 MiB (ten 2 MiB files, so every connection of the target is
 * busy at once) with `bwlimit: 2M` to a local folder and to SFTP (the private sshd of
 * test/servers/sshd.ts), through the engine as `once` runs it, and prints the rate reached
 * against the limit; each push is verified byte for byte. The rate is measured where the bytes
 * land: the target folder (temp files included) is polled every 20 ms, and the rate is the
 * bytes that arrived between 5 % and 95 % of the total over the time that took, so the
 * connection set-up, scan and final renames (timed in the wall-clock column) do not blur it.
 * The limit holds when that rate is within 5 % of it.
 *
 *   node --import tsx bench/bwlimit.ts [MiB=20] [limit=2M]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRate } from '../src/core/bwlimit.ts';
import { SyncRunner } from '../src/engine/sync-runner.ts';
import { createLogger } from '../src/log/logger.ts';
import { SqliteStore } from '../src/state/sqlite-store.ts';
import type { TargetSpec } from '../src/targets/registry.ts';
import { startSshd } from '../test/servers/sshd.ts';

const mib = Number(process.argv[2] ?? 20);
const limitText = process.argv[3] ?? '2M';
const limit = parseRate(limitText);
if (!limit.ok || limit.rate === undefined) throw new Error(`not a rate: ${limitText}`);
const rate = limit.rate;
const FILES = 10;

const work = mkdtempSync(join(tmpdir(), 'si-bench-bwlimit-'));
const src = join(work, 'src');
mkdirSync(src);
const size = Math.floor((mib * 1024 * 1024) / FILES);
for (let i = 0; i < FILES; i++) writeFileSync(join(src, `f${i}.bin`), Buffer.alloc(size, i + 1));
const total = size * FILES;

async function push(name: string, target: TargetSpec, dest: string): Promise<string> {
  const store = new SqliteStore(join(work, `${name}.db`));
  const runner = new SyncRunner({ syncs: [{ source: src, targets: [target] }] }, store, join(work, `${name}.db`), createLogger(() => undefined));
  const started = performance.now();
  // Bytes on the target over time (temp names included): where the limit must show.
  const samples: [number, number][] = [];
  const poll = setInterval(() => {
    let bytes = 0;
    try {
      for (const n of readdirSync(dest)) bytes += statSync(join(dest, n)).size;
    } catch {
      // not there yet, or a temp renamed between the listing and the stat
    }
    samples.push([performance.now(), bytes]);
  }, 20);
  const { ok } = await runner.once();
  clearInterval(poll);
  const seconds = (performance.now() - started) / 1000;
  const at = (fraction: number) => samples.find(([, b]) => b >= total * fraction)!;
  const [t5, b5] = at(0.05);
  const [t95, b95] = at(0.95);
  const reached = ((b95 - b5) * 1000) / (t95 - t5);
  await runner.stop();
  store.close();
  if (!ok) throw new Error(`${name}: the push did not finish`);
  for (let i = 0; i < FILES; i++) if (!readFileSync(join(dest, `f${i}.bin`)).equals(readFileSync(join(src, `f${i}.bin`)))) throw new Error(`${name}: f${i}.bin differs`);
  const off = (reached / rate - 1) * 100;
  const verdict = Math.abs(off) <= 5 ? 'holds (within 5 %)' : 'MISSED (more than 5 % off)';
  return `| ${name} | ${(total / 1024 / 1024).toFixed(1)} MiB | ${limitText} = ${(rate / 1024 / 1024).toFixed(3)} MiB/s | ${seconds.toFixed(2)} s (${(total / seconds / 1024 / 1024).toFixed(3)} MiB/s overall) | ${(reached / 1024 / 1024).toFixed(3)} MiB/s | ${off >= 0 ? '+' : ''}${off.toFixed(1)} % | ${verdict} |`;
}

const rows: string[] = [];
try {
  const local = join(work, 'local');
  rows.push(await push('local folder', { url: local, bwlimit: limitText }, local));
  const sshd = await startSshd();
  if (sshd === undefined) {
    rows.push('| SFTP | (sshd missing: run .ci/install-ssh-server.sh) | | | | | |');
  } else {
    try {
      const remote = join(work, 'sftp');
      rows.push(await push('SFTP, 4 connections', { url: `sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}`, identityFile: sshd.clientKey, knownHosts: sshd.knownHosts, connections: 4, bwlimit: limitText }, remote));
    } finally {
      await sshd.cleanup();
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log('| target | sent | limit | wall clock (connect, scan, push, verify) | rate reached (5–95 % of the bytes) | vs limit | |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
