/**
 * Drives the real CLI as a separate process and compares trees byte for byte.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat as lstatPath, readdir as readdirBytes, readFile as readFilePath, readlink as readlinkPath } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeName, quotePath, toFsPath } from '../../src/core/names.ts';

export const BIN = resolve(fileURLToPath(import.meta.url), '../../../bin/sync-inotify.js');

export function tempDir(prefix: string): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), `si-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion. */
export function runCli(args: string[], options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env }, ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** The daemon (`run`) as a child process, with its output collected. */
export class Daemon {
  output = '';
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(args: string[], options: { uid?: number; gid?: number } = {}) {
    this.child = spawn(process.execPath, [BIN, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}) });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((r) => this.child.on('close', (code) => r(code)));
  }

  static async start(args: string[], options: { uid?: number; gid?: number } = {}): Promise<Daemon> {
    const d = new Daemon(args, options);
    await d.waitFor(/watching /, 20_000);
    return d;
  }

  async waitFor(re: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.output)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in daemon output:\n${this.output.slice(-3000)}`);
      if (this.child.exitCode !== null) throw new Error(`daemon exited (${this.child.exitCode}) before ${re}:\n${this.output.slice(-3000)}`);
      await sleep(20);
    }
  }

  /** Operations logged so far, by kind. */
  opCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const m of this.output.matchAll(/^\S+ (put|rename|mkdir|remove|rmdir|rmdir -r|symlink|publish) "/gm)) counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
    return counts;
  }

  /** The lines of paths put more than once, for a failure message that says which and why. */
  repeatedPuts(): string[] {
    const lines = [...this.output.matchAll(/^\S+ put "([^"]*)".*$/gm)];
    const seen = new Map<string, number>();
    for (const m of lines) seen.set(m[1]!, (seen.get(m[1]!) ?? 0) + 1);
    return lines.filter((m) => (seen.get(m[1]!) ?? 0) > 1).map((m) => m[0]);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The first difference between two trees (kinds, bytes, link texts), or undefined. Names are
 * compared as bytes (decoded with the engine's mapping, so a name that is not valid UTF-8
 * shows as \xff in messages): Node's default decoding would make distinct names look alike.
 */
export async function treeDifference(a: string, b: string, skip: (name: string) => boolean = () => false): Promise<string | undefined> {
  const readdir = async (dir: string) => (await readdirBytes(toFsPath(dir), { encoding: 'buffer' })).map(decodeName);
  const lstat = (p: string) => lstatPath(toFsPath(p));
  const readlink = async (p: string) => decodeName(await readlinkPath(toFsPath(p), { encoding: 'buffer' }));
  const readFile = (p: string) => readFilePath(toFsPath(p));
  const walk = async (rel: string): Promise<string | undefined> => {
    const [na, nb] = await Promise.all([readdir(join(a, rel)).catch(() => null), readdir(join(b, rel)).catch(() => null)]);
    if (na === null || nb === null) return `${rel || '.'}: ${na === null ? 'missing in source' : 'missing in mirror'}`;
    const la = na.filter((n) => !skip(n)).sort();
    const lb = nb.filter((n) => !skip(n)).sort();
    if (la.join('\0') !== lb.join('\0')) {
      const onlyA = la.filter((n) => !lb.includes(n)).slice(0, 5);
      const onlyB = lb.filter((n) => !la.includes(n)).slice(0, 5);
      return `${rel || '.'}: only in source [${onlyA.map(quotePath).join(', ')}], only in mirror [${onlyB.map(quotePath).join(', ')}]`;
    }
    for (const name of la) {
      const p = rel ? `${rel}/${name}` : name;
      const [sa, sb] = await Promise.all([lstat(join(a, p)).catch(() => null), lstat(join(b, p)).catch(() => null)]);
      if (!sa || !sb) return `${p}: vanished while comparing`;
      if (sa.isDirectory() !== sb.isDirectory() || sa.isSymbolicLink() !== sb.isSymbolicLink()) return `${p}: kind differs`;
      if (sa.isSymbolicLink()) {
        if ((await readlink(join(a, p))) !== (await readlink(join(b, p)))) return `${p}: link differs`;
      } else if (sa.isDirectory()) {
        const d = await walk(p);
        if (d) return d;
      } else if (sa.isFile()) {
        if (sa.size !== sb.size) return `${p}: size ${sa.size} vs ${sb.size}`;
        const [ba, bb] = await Promise.all([readFile(join(a, p)), readFile(join(b, p))]);
        if (!ba.equals(bb)) return `${p}: content differs`;
      }
    }
    return undefined;
  };
  return walk('');
}

/**
 * The daemon batches its stdout lines when stdout is a pipe (up to 50 ms, see
 * src/log/logger.ts); tests that count operation lines wait this long after convergence.
 */
const LOG_BATCH_SETTLE_MS = 120;

/**
 * Polls until the trees are identical (but for names `skip` accepts); throws with the last
 * difference on timeout. With a daemon, also lets its batched log lines arrive, so op counts
 * read next are complete.
 */
export async function waitForSame(a: string, b: string, timeoutMs: number, daemon?: Daemon, skip?: (name: string) => boolean): Promise<number> {
  const start = Date.now();
  let last: string | undefined;
  while (Date.now() - start < timeoutMs) {
    last = await treeDifference(a, b, skip).catch((e: Error) => e.message);
    if (last === undefined) {
      const took = Date.now() - start;
      if (daemon) await sleep(LOG_BATCH_SETTLE_MS);
      return took;
    }
    await sleep(50);
  }
  throw new Error(`trees still differ after ${timeoutMs} ms: ${last}${daemon ? `\n--- daemon output (tail) ---\n${daemon.output.slice(-4000)}` : ''}`);
}
