/**
 * `start` (and the original `--start`): detach a daemon, wait until it watches, report where
 * its pid file and logs are. Refuses while the instance runs; a stale pid file is removed.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pidState, removeQuietly } from '../service/pid-file.ts';
import type { CommonOptions } from './context.ts';
import { complain, instanceFor, say } from './instance.ts';
import { BIN_PATH } from './package-root.ts';
import type { ReadyMessage } from './serve.ts';
import { EXIT } from '../service/exit-codes.ts';

const READY_TIMEOUT_MS = 120_000;

/** The arguments of the detached `run --daemon`, every path absolute (it runs from /). */
function childArgs(source: string | undefined, dest: string | undefined, opts: CommonOptions): string[] {
  const args: string[] = [];
  const urlOrPath = (s: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : resolve(s));
  if (opts.config !== undefined) args.push('-c', resolve(opts.config));
  if (source !== undefined) args.push(resolve(source));
  if (dest !== undefined) args.push(urlOrPath(dest));
  if (opts.state !== undefined) args.push('--state', resolve(opts.state));
  if (opts.debug) args.push('--debug');
  if (opts.connections !== undefined) args.push('--connections', opts.connections);
  for (const e of opts.exclude ?? []) args.push('--exclude', e);
  if (opts.target !== undefined) args.push('--target', urlOrPath(opts.target));
  return args;
}

export async function startCommand(source: string | undefined, dest: string | undefined, opts: CommonOptions): Promise<number> {
  const { paths } = instanceFor(source, dest, opts, false);
  if (opts.config === undefined && source === undefined) {
    complain('start needs -c FILE (a YAML config or the original settings file) or SOURCE DEST');
    return EXIT.usage;
  }
  const st = pidState(paths.pidFile);
  if (st.state === 'running') {
    complain(`${paths.name}: already running (pid ${st.pid}, pid file ${paths.pidFile}); use restart or stop first`);
    return EXIT.failed;
  }
  if (st.state === 'stale') {
    removeQuietly(paths.pidFile);
    removeQuietly(paths.socket);
    say(`${paths.name}: removed a stale pid file ${paths.pidFile}${st.pid !== undefined ? ` (pid ${st.pid} is not running)` : ''}`);
  }
  for (const note of paths.notes) say(`${paths.name}: ${note}`);
  const toTerminal = paths.logFile === undefined;
  const child = spawn(process.execPath, [...process.execArgv, BIN_PATH, 'run', '--daemon', ...childArgs(source, dest, opts)], {
    detached: true,
    cwd: '/',
    stdio: ['ignore', toTerminal ? 'inherit' : 'ignore', toTerminal ? 'inherit' : 'ignore', 'ipc'],
    env: process.env,
  });
  const outcome = await new Promise<ReadyMessage>((resolvePromise) => {
    const timer = setTimeout(
      () => resolvePromise({ ready: false, message: `the daemon (pid ${child.pid}) is not ready after ${READY_TIMEOUT_MS / 1000} s; see ${paths.logFile ?? 'its output'}`, exitCode: EXIT.failed }),
      READY_TIMEOUT_MS,
    );
    child.on('message', (m: ReadyMessage) => {
      clearTimeout(timer);
      resolvePromise(m);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ ready: false, message: `the daemon exited (${signal ?? `code ${code}`}) before it was ready; see ${paths.logFile ?? 'its output'}`, exitCode: EXIT.failed });
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolvePromise({ ready: false, message: `cannot start the daemon: ${err.message}`, exitCode: EXIT.failed });
    });
  });
  child.removeAllListeners();
  if (child.connected) child.disconnect();
  child.unref();
  if (!outcome.ready) {
    complain(`${paths.name}: ${outcome.message}`);
    return outcome.exitCode;
  }
  say(`${paths.name}: started (pid ${outcome.pid}); log ${outcome.logFile ?? 'terminal'}; pid file ${paths.pidFile}; state ${paths.statePath}`);
  return EXIT.ok;
}
