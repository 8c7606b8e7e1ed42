/**
 * `stop` (and the original `--stop`): SIGTERM, then wait while the daemon finishes the
 * operations in flight (pending changes are kept for the next start). Only if it is still
 * there after the timeout: SIGKILL, which loses nothing either (the state store is durable).
 */
import { pidState, removeQuietly } from '../service/pid-file.ts';
import type { CommonOptions } from './context.ts';
import { complain, instanceFor, isGone, say, sleep } from './instance.ts';
import { EXIT } from '../service/exit-codes.ts';

export interface StopOptions extends CommonOptions {
  timeout?: string;
}

export const DEFAULT_STOP_TIMEOUT_SEC = 60;

export async function stopCommand(source: string | undefined, dest: string | undefined, opts: StopOptions): Promise<number> {
  const { paths } = instanceFor(source, dest, opts);
  const timeoutSec = opts.timeout === undefined ? DEFAULT_STOP_TIMEOUT_SEC : Number(opts.timeout);
  if (!(timeoutSec > 0)) {
    complain('--timeout must be a number of seconds above 0');
    return EXIT.usage;
  }
  const st = pidState(paths.pidFile);
  if (st.state === 'none') {
    say(`${paths.name}: not running (no pid file ${paths.pidFile})`);
    return EXIT.ok;
  }
  if (st.state === 'stale') {
    removeQuietly(paths.pidFile);
    removeQuietly(paths.socket);
    say(`${paths.name}: not running; removed a stale pid file ${paths.pidFile}${st.pid !== undefined ? ` (pid ${st.pid} is not running)` : ''}`);
    return EXIT.ok;
  }
  const pid = st.pid;
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    complain(`${paths.name}: cannot signal pid ${pid}: ${(err as NodeJS.ErrnoException).code}`);
    return EXIT.failed;
  }
  say(`${paths.name}: stopping (pid ${pid}); finishing operations in flight…`);
  const deadline = Date.now() + timeoutSec * 1000;
  while (!isGone(pid) && Date.now() < deadline) await sleep(50);
  if (!isGone(pid)) {
    complain(`${paths.name}: still running after ${timeoutSec} s; sending SIGKILL (nothing is lost: the next start reconciles from the state store)`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    const killDeadline = Date.now() + 10_000;
    while (!isGone(pid) && Date.now() < killDeadline) await sleep(50);
    if (!isGone(pid)) {
      complain(`${paths.name}: pid ${pid} does not go away`);
      return EXIT.failed;
    }
  }
  // The daemon removes both itself; after a SIGKILL they are left behind.
  if (pidState(paths.pidFile).state !== 'running') {
    removeQuietly(paths.pidFile);
    removeQuietly(paths.socket);
  }
  say(`${paths.name}: stopped`);
  return EXIT.ok;
}
