/**
 * Running the tools: a command with a wall-clock time and the tail of its output, long-running
 * processes (daemons) that can be stopped, and /proc sampling for memory and CPU.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Cmd {
  /** argv[0] is the program; never a shell unless it is explicitly `bash -c`. */
  readonly argv: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface Timed {
  readonly ms: number;
  readonly code: number | null;
  /** The last ~4 KB of stdout+stderr, for failure messages. */
  readonly tail: string;
  /** Lines of output (counted, not kept). */
  readonly lines: number;
  /** Our CLI's operation lines by kind (`put "…"`, `rename "…"`, …); empty for other tools. */
  readonly ops: Record<string, number>;
}

const OP_LINE = /^\S+ (put|rename|mkdir|remove|rmdir|rmdir -r|symlink|publish) "/;

/** Runs to completion and measures wall time from spawn to exit. */
export function timed(cmd: Cmd, timeoutMs = 30 * 60_000): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd.argv[0] as string, cmd.argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...cmd.env }, cwd: cmd.cwd });
    let tail = '';
    let lines = 0;
    const ops: Record<string, number> = {};
    const partial = { stdout: '', stderr: '' };
    const take = (stream: 'stdout' | 'stderr') => (d: Buffer) => {
      const s = partial[stream] + d.toString();
      const parts = s.split('\n');
      partial[stream] = parts.pop() ?? '';
      lines += parts.length;
      for (const line of parts) {
        const m = OP_LINE.exec(line);
        if (m) ops[m[1] as string] = (ops[m[1] as string] ?? 0) + 1;
      }
      tail = (tail + d.toString()).slice(-4096);
    };
    child.stdout.on('data', take('stdout'));
    child.stderr.on('data', take('stderr'));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, code, tail, lines, ops });
    });
  });
}

/** Runs a short command and returns its trimmed output (stdout, else stderr: `ssh -V` prints there). */
export function capture(argv: readonly string[]): string {
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' });
  return (`${r.stdout ?? ''}`.trim() || `${r.stderr ?? ''}`.trim());
}

/** A background process (a daemon under test) whose output is collected. */
export class Background {
  output = '';
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(cmd: Cmd, options: { detached?: boolean } = {}) {
    this.child = spawn(cmd.argv[0] as string, cmd.argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...cmd.env },
      cwd: cmd.cwd,
      detached: options.detached ?? true,
    });
    const keep = (d: Buffer) => {
      this.output += d.toString();
      if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((r) => this.child.on('close', (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitFor(re: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.output)) {
      if (!this.running) throw new Error(`exited (${this.child.exitCode ?? this.child.signalCode}) before ${re}:\n${this.output.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${this.output.slice(-2000)}`);
      await sleep(20);
    }
  }

  /** SIGTERM to the process group (a shell pipeline takes its children along), then SIGKILL. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    const pid = this.pid;
    const sig = (s: NodeJS.Signals) => {
      try {
        process.kill(-pid, s);
      } catch {
        try {
          process.kill(pid, s);
        } catch {
          // gone
        }
      }
    };
    sig('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) sig('SIGKILL');
    await this.exited;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resident set size of one process in bytes (VmRSS), or NaN when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** User + system CPU time of one process, in milliseconds. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the ")" field 3 is state; utime and stime are fields 14 and 15 of the full line.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / clockTicks();
  } catch {
    return NaN;
  }
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  ticksPerSecond ??= Number(capture(['getconf', 'CLK_TCK'])) || 100;
  return ticksPerSecond;
}

/** The pids of every descendant of `pid` (from /proc): the test servers' helper. */
export { descendantsOf as descendants } from '../../test/servers/processes.ts';
