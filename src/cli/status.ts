/**
 * `status`: asks the daemon over its control socket (per sync and target: state, queued
 * changes, in flight, files and bytes sent, lag, last error). When it is not running, says so
 * and shows what the state store knows. Exit 0 running, 3 not running (the LSB convention),
 * 1 running but not answering.
 */
import { ControlUnavailable, controlRequest } from '../service/control.ts';
import { pidState } from '../service/pid-file.ts';
import { formatDaemonStatus, formatStoreReport, type DaemonStatus } from '../service/status-report.ts';
import { readStateSummary } from '../state/summary.ts';
import type { CommonOptions } from './context.ts';
import { instanceFor } from './instance.ts';
import { EXIT } from '../service/exit-codes.ts';

export interface StatusOptions extends CommonOptions {
  json?: boolean;
}

export async function statusCommand(source: string | undefined, dest: string | undefined, opts: StatusOptions): Promise<number> {
  const { paths } = instanceFor(source, dest, opts);
  const print = (text: string) => process.stdout.write(text);
  let problem: string;
  try {
    const s = await controlRequest<DaemonStatus>(paths.socket, 'status', 10_000);
    print(opts.json ? JSON.stringify({ running: true, ...s }, null, 2) + '\n' : formatDaemonStatus(s));
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ControlUnavailable)) throw err;
    problem = err.message;
  }
  const st = pidState(paths.pidFile);
  const store = readStateSummary(paths.statePath);
  if (st.state === 'running') {
    const why = `pid ${st.pid} runs but does not answer: ${problem}`;
    print(opts.json ? JSON.stringify({ running: true, name: paths.name, pid: st.pid, error: why, store }, null, 2) + '\n' : `${paths.name}: running (pid ${st.pid}) but the control socket does not answer (${problem})\n`);
    return EXIT.failed;
  }
  const why = st.state === 'none' ? `no pid file ${paths.pidFile}` : `stale pid file ${paths.pidFile}${st.pid !== undefined ? `: pid ${st.pid} is gone` : ''}`;
  print(opts.json ? JSON.stringify({ running: false, name: paths.name, reason: why, store }, null, 2) + '\n' : formatStoreReport(paths.name, why, store));
  return EXIT.unavailable;
}
