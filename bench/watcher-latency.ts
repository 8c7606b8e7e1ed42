/**
 * Micro-benchmark of the watchers (not a test): how late a change is reported, and what
 * watching a large tree costs.
 *
 *   node --import tsx bench/watcher-latency.ts [--writes 200] [--dirs 10000] [--files-per-dir 10]
 *                                               [--work DIR] [--skip-scale]
 *
 * Latency: N files written one at a time into a small tree; for each, the time from just before
 * writeFileSync to the onHints call naming it. Writes are spaced by a random 0–60 ms so they
 * land at every phase of nsfw's 50 ms poll, as real changes do. The watchers run one after the
 * other in this process (never both at once), each as SyncRunner creates it.
 *
 * Scale: a tree of `dirs` directories holding `dirs × files-per-dir` files; each watcher is
 * started in a fresh child process, which reports the time until every directory is really
 * watched (counted from /proc/self/fdinfo of its inotify fds, so a watcher that returns from
 * start() early is not flattered), the RSS before and after, and the CPU used over 3 s idle.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Scope } from '../src/core/scope.ts';
import { DirWatcher } from '../src/watch/dir-watcher.ts';
import { loadInotifyBinding } from '../src/watch/inotify-binding.ts';
import { InotifyWatcher } from '../src/watch/inotify-watcher.ts';
import { NsfwWatcher } from '../src/watch/nsfw-watcher.ts';
import type { Watcher, WatcherCallbacks } from '../src/watch/watcher.ts';

// inotify: our binding (the default when built); fswatch: DirWatcher (its fallback); nsfw.
type Kind = 'inotify' | 'fswatch' | 'nsfw';
const KINDS: Kind[] = ['inotify', 'fswatch', 'nsfw'];

function create(kind: Kind, root: string, cb: WatcherCallbacks): Watcher {
  if (kind === 'inotify') {
    const loaded = loadInotifyBinding();
    if (!('binding' in loaded)) throw new Error(`inotify binding: ${loaded.reason}`);
    return new InotifyWatcher(root, cb, loaded.binding);
  }
  return kind === 'fswatch' ? new DirWatcher(root, cb) : new NsfwWatcher(root, cb);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Inotify watches this process holds, from the kernel's own bookkeeping. */
function inotifyWatchCount(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (link !== 'anon_inode:inotify') continue;
    for (const line of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n')) if (line.startsWith('inotify wd:')) n++;
  }
  return n;
}

async function measureLatency(kind: Kind, work: string, writes: number): Promise<{ ms: number[]; missed: number }> {
  const root = join(work, `lat-${kind}`);
  const dirs: string[] = [];
  for (let i = 0; i < 10; i++) for (let j = 0; j < 10; j++) dirs.push(`d${i}/e${j}`);
  for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
  const waiting = new Map<string, (t: number) => void>();
  const w = create(kind, root, {
    onHints: (hints: Scope[]) => {
      const t = performance.now();
      for (const h of hints) waiting.get(h.path)?.(t);
    },
    onLost: (r) => console.error(`${kind}: lost: ${r}`),
  });
  await w.start();
  await sleep(300);
  const ms: number[] = [];
  let missed = 0;
  for (let i = 0; i < writes; i++) {
    const rel = `${dirs[i % dirs.length]}/f${i}.txt`;
    const got = new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 2_000);
      waiting.set(rel, (t) => {
        clearTimeout(timer);
        resolve(t);
      });
    });
    const t0 = performance.now();
    writeFileSync(join(root, rel), `write ${i}\n`);
    const t1 = await got;
    waiting.delete(rel);
    if (t1 === undefined) missed++;
    else ms.push(t1 - t0);
    await sleep(Math.random() * 60);
  }
  await w.stop();
  return { ms: ms.sort((a, b) => a - b), missed };
}

interface ScaleResult {
  kind: Kind;
  startMs: number;
  allWatchedMs: number;
  watches: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  idleCpuMs: number;
}

/** Child mode: start one watcher on the big tree, measure, print JSON, exit. */
async function scaleChild(kind: Kind, root: string, expectedDirs: number): Promise<void> {
  // Load both modules and settle before the baseline, so the delta is the watcher's own.
  globalThis.gc?.();
  await sleep(200);
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const w = create(kind, root, { onHints: () => {}, onLost: (r) => console.error(`${kind}: lost: ${r}`) });
  await w.start();
  const startMs = performance.now() - t0;
  let watches = inotifyWatchCount();
  while (watches < expectedDirs && performance.now() - t0 < 120_000) {
    await sleep(5);
    watches = inotifyWatchCount();
  }
  const allWatchedMs = performance.now() - t0;
  await sleep(500);
  // Collect the walk's garbage: what stays is what watching costs while the daemon runs.
  globalThis.gc?.();
  await sleep(100);
  const rssAfter = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  await sleep(3_000);
  const cpu = process.cpuUsage(cpu0);
  const result: ScaleResult = {
    kind,
    startMs,
    allWatchedMs,
    watches,
    rssBeforeMiB: rssBefore / 2 ** 20,
    rssAfterMiB: rssAfter / 2 ** 20,
    idleCpuMs: (cpu.user + cpu.system) / 1000,
  };
  console.log(JSON.stringify(result));
  // nsfw's native thread keeps the process alive even after stop(): exit explicitly.
  process.exit(0);
}

function runChild(kind: Kind, root: string, expected: number): Promise<ScaleResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', kind, '--root', root, '--expected', String(expected)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as ScaleResult);
      } catch {
        reject(new Error(`child ${kind} exited ${code}: ${out}`));
      }
    });
  });
}

function buildTree(root: string, dirs: number, filesPerDir: number): void {
  const fanout = Math.ceil(Math.sqrt(dirs));
  let made = 0;
  for (let i = 0; made < dirs; i++) {
    const top = join(root, `t${i}`);
    mkdirSync(top, { recursive: true });
    made++;
    for (let f = 0; f < filesPerDir; f++) writeFileSync(join(top, `f${f}`), 'x');
    for (let j = 0; j < fanout - 1 && made < dirs; j++, made++) {
      const sub = join(top, `s${j}`);
      mkdirSync(sub);
      for (let f = 0; f < filesPerDir; f++) writeFileSync(join(sub, `f${f}`), 'x');
    }
  }
}

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      writes: { type: 'string', default: '200' },
      dirs: { type: 'string', default: '10000' },
      'files-per-dir': { type: 'string', default: '10' },
      work: { type: 'string' },
      'skip-scale': { type: 'boolean', default: false },
      child: { type: 'string' },
      root: { type: 'string' },
      expected: { type: 'string' },
    },
  });
  if (values.child !== undefined) return scaleChild(values.child as Kind, values.root!, Number(values.expected));

  const work = values.work ?? mkdtempSync(join(tmpdir(), 'si-watchbench-'));
  mkdirSync(work, { recursive: true });
  try {
    const writes = Number(values.writes);
    console.log(`latency: ${writes} writes, time from writeFileSync to onHints (ms)`);
    console.log('watcher | p50   | p95   | p99   | max   | missed');
    for (const kind of KINDS) {
      const { ms, missed } = await measureLatency(kind, work, writes);
      console.log(`${kind.padEnd(7)} | ${fmt(percentile(ms, 50), 2).padStart(5)} | ${fmt(percentile(ms, 95), 2).padStart(5)} | ${fmt(percentile(ms, 99), 2).padStart(5)} | ${fmt(ms[ms.length - 1] ?? NaN, 2).padStart(5)} | ${missed}`);
    }
    if (values['skip-scale']) return;

    const dirs = Number(values.dirs);
    const perDir = Number(values['files-per-dir']);
    const big = join(work, 'big');
    const tb = performance.now();
    buildTree(big, dirs, perDir);
    console.log(`\nscale: ${dirs} directories, ${dirs * perDir} files (tree built in ${fmt((performance.now() - tb) / 1000)} s)`);
    console.log('watcher | start() ms | all watched ms | watches | RSS before MiB | RSS after MiB | Δ MiB | idle CPU ms/3 s');
    for (const kind of KINDS) {
      const r = await runChild(kind, big, dirs + 1);
      console.log(
        `${kind.padEnd(7)} | ${fmt(r.startMs, 0).padStart(10)} | ${fmt(r.allWatchedMs, 0).padStart(14)} | ${String(r.watches).padStart(7)} | ${fmt(r.rssBeforeMiB).padStart(14)} | ${fmt(r.rssAfterMiB).padStart(13)} | ${fmt(r.rssAfterMiB - r.rssBeforeMiB).padStart(5)} | ${fmt(r.idleCpuMs)}`,
      );
    }
  } finally {
    if (values.work === undefined) rmSync(work, { recursive: true, force: true });
  }
}

await main();
// nsfw leaves its native thread running after stop(), which would keep this process alive.
process.exit(0);
