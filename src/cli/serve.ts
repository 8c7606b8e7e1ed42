/**
 * `run` and the process `start` detaches: the command-line side of the daemon, whose
 * lifecycle (pid file, control socket, log output, signals, reloads) is service/daemon.ts.
 */
import { runDaemon } from '../service/daemon.ts';
import { resolve } from 'node:path';
import { resolveConfig, type CommonOptions } from './context.ts';
import { packageVersion } from './package-root.ts';

export { STOP_DEADLINE_MS, type ReadyMessage } from '../service/daemon.ts';

export interface ServeOptions extends CommonOptions {
  /** Set by `start` for the detached child: file logs, pid file always, readiness over IPC. */
  daemon?: boolean;
  /** `run --dry-run`: plans are logged, nothing is carried out (README: Dry run). */
  dryRun?: boolean;
  /** false with `--no-progress`: no live progress line on a terminal. */
  progress?: boolean;
}

export function serve(source: string | undefined, dest: string | undefined, opts: ServeOptions): Promise<number> {
  return runDaemon({
    mode: opts.daemon ? 'daemon' : 'foreground',
    readConfig: () => resolveConfig(source, dest, opts),
    // Shown by `status` as a full path, whatever the cwd of the command that asks.
    ...(opts.config !== undefined ? { configFile: resolve(opts.config) } : {}),
    ...(opts.state !== undefined ? { stateOverride: opts.state } : {}),
    debug: opts.debug === true,
    dryRun: opts.dryRun === true,
    progress: opts.progress !== false,
    version: packageVersion(),
  });
}
