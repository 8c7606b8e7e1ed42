/**
 * Spawns rsync, ssh and ssh-keyscan with an argument array (never a shell), feeds stdin,
 * gathers stdout and stderr as bytes. Every child is tracked so `close()` can end the ones
 * still running. Secrets travel in the child's environment only (RSYNC_PASSWORD), never in
 * argv, which other users can read in /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export const RSYNC_BIN = '/usr/bin/rsync';
export const SSH_BIN = '/usr/bin/ssh';
export const SSH_KEYSCAN_BIN = '/usr/bin/ssh-keyscan';

export interface RunResult {
  readonly exit: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

export class Runner {
  private readonly children = new Set<ChildProcess>();

  run(bin: string, args: readonly string[], options: { input?: Buffer; env?: NodeJS.ProcessEnv; killAfterMs?: number } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
      this.children.add(child);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.stdin.on('error', () => undefined); // a child that exits early closes its stdin
      const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
      child.on('error', (e) => {
        this.children.delete(child);
        if (timer) clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code, signal) => {
        this.children.delete(child);
        if (timer) clearTimeout(timer);
        const stderr = Buffer.concat(err);
        resolve({ exit: code ?? (signal === 'SIGKILL' && timer ? 30 : 255), stdout: Buffer.concat(out), stderr: signal ? Buffer.concat([stderr, Buffer.from(`\nkilled by ${signal}`)]) : stderr });
      });
      child.stdin.end(options.input ?? Buffer.alloc(0));
    });
  }

  /** Ends every child still running (close of the target). */
  killAll(): void {
    for (const c of this.children) c.kill('SIGTERM');
  }
}

/**
 * NUL-separated list for `--from0 --files-from=-`. Each path starts with `./`: rsync takes a
 * line starting with `#` or `;` as a comment, and `./` is dropped again (it marks where the
 * relative path starts).
 */
export function nulList(paths: readonly Buffer[]): Buffer {
  return Buffer.concat(paths.flatMap((p) => [Buffer.from('./'), p, Buffer.of(0)]));
}
