/**
 * `reload`: SIGHUP to the daemon (what `systemctl reload` does too), then wait for it to
 * report the reload on the control socket: re-read configuration, reopened log files. A
 * configuration that does not validate is refused and the running one kept (exit 1).
 */
import { ControlUnavailable, controlRequest } from '../service/control.ts';
import { pidState } from '../service/pid-file.ts';
import type { DaemonStatus } from '../service/status-report.ts';
import type { CommonOptions } from './context.ts';
import { complain, instanceFor, say, sleep } from './instance.ts';
import { EXIT } from '../service/exit-codes.ts';

const RELOAD_TIMEOUT_MS = 120_000;

export async function reloadCommand(source: string | undefined, dest: string | undefined, opts: CommonOptions): Promise<number> {
  const { paths } = instanceFor(source, dest, opts);
  const st = pidState(paths.pidFile);
  if (st.state !== 'running') {
    complain(`${paths.name}: not running`);
    return EXIT.unavailable;
  }
  let before: number | undefined;
  try {
    before = (await controlRequest<DaemonStatus>(paths.socket, 'status')).reload.count;
  } catch (err) {
    if (!(err instanceof ControlUnavailable)) throw err;
  }
  process.kill(st.pid, 'SIGHUP');
  if (before === undefined) {
    say(`${paths.name}: sent SIGHUP to pid ${st.pid} (no control socket to confirm the reload)`);
    return EXIT.ok;
  }
  const deadline = Date.now() + RELOAD_TIMEOUT_MS;
  while (Date.now() < deadline) {
    await sleep(100);
    let s: DaemonStatus;
    try {
      s = await controlRequest<DaemonStatus>(paths.socket, 'status');
    } catch {
      continue;
    }
    if (s.reload.count > before) {
      if (s.reload.error !== undefined) {
        complain(`${paths.name}: reload refused: ${s.reload.error}; still running the previous configuration`);
        return EXIT.failed;
      }
      say(`${paths.name}: reloaded (pid ${st.pid})`);
      return EXIT.ok;
    }
  }
  complain(`${paths.name}: no reload reported within ${RELOAD_TIMEOUT_MS / 1000} s; see the log`);
  return EXIT.failed;
}
