/**
 * The running daemon's lifecycle, shared by `run` (foreground, systemd) and the process
 * `start` detaches (cli/serve.ts builds its options): pid file, control socket, log output,
 * signals, reloads.
 *
 *   SIGTERM / SIGINT  finish operations in flight (at most STOP_DEADLINE_MS), keep what is
 *                     pending (the next start reconciles it), remove the pid file, exit 0
 *   SIGHUP            re-read the configuration (a bad one is refused and the running one
 *                     kept), reopen the log file; syncs restart with the new settings
 *
 * A foreground `run` of an unnamed configuration (the quick form, or a file without `name:`
 * or `pidFile:`) is ad hoc: no pid file and no control socket, so several can run at once.
 */
import type { Server } from 'node:net';
import type { ConfigFile } from '../config/schema.ts';
import { secretsOf } from '../config/secrets.ts';
import { SyncRunner, type RunnerOptions } from '../engine/sync-runner.ts';
import { planLine } from '../engine/dry-run.ts';
import { ProgressBoard, progressWanted } from './progress-line.ts';
import { formatListenAddress, parseListenAddress } from '../core/listen-address.ts';
import { startMetricsServer, type MetricsServer } from './metrics.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { logNow } from '../log/clock.ts';
import { LogOutput } from '../log/output.ts';
import { maskValue, redactSecrets } from '../log/redact.ts';
import { SqliteStore } from '../state/sqlite-store.ts';
import { SECRET_KEYS } from '../targets/registry.ts';
import { startControlServer, stopControlServer } from './control.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
import { instancePaths, logSettings, type InstancePaths } from './paths.ts';
import { acquirePidFile, releasePidFile } from './pid-file.ts';
import { formatStatusLine, type DaemonStatus } from './status-report.ts';
import { SystemdNotifier, notifySettings } from './systemd-notify.ts';

/** How long SIGTERM waits for operations in flight before exiting anyway. */
export const STOP_DEADLINE_MS = 30_000;

export interface DaemonOptions {
  /** `daemon`: the detached child of `start` (file logs, pid file always, readiness over IPC). */
  readonly mode: 'daemon' | 'foreground';
  /** Reads the configuration: at start, and again at each SIGHUP when there is a file. */
  readonly readConfig: () => ConfigFile;
  /** The configuration file, if any (shown in `status`; SIGHUP re-reads only a file). */
  readonly configFile?: string;
  /** --state: the state file instead of the one named after the instance. */
  readonly stateOverride?: string;
  readonly debug: boolean;
  /** `run --dry-run` (README: Dry run): plans are logged, nothing is carried out. */
  readonly dryRun?: boolean;
  /** false: no live progress line even on a terminal (`--no-progress`). */
  readonly progress?: boolean;
  /** sync-inotify's version, shown by `status`. */
  readonly version?: string;
}

/** What the detached child tells `start` over the IPC channel. */
export type ReadyMessage = { ready: true; pid: number; logFile?: string } | { ready: false; message: string; exitCode: number };

function errorText(err: unknown): string {
  return redactSecrets(err instanceof Error ? err.message : String(err));
}

/** The `metrics:` address as configured, for the reload's "takes a restart" warning. */
function metricsText(config: ConfigFile): string {
  const r = parseListenAddress(config.metrics);
  return r.ok && r.address ? formatListenAddress(r.address) : 'off';
}

/** Runs until SIGTERM/SIGINT; resolves with the exit code. Rejects when it cannot start. */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const { mode } = opts;
  const notify = (msg: ReadyMessage) =>
    new Promise<void>((resolve) => {
      if (mode !== 'daemon' || !process.send) return resolve();
      process.send(msg, () => {
        process.disconnect?.();
        resolve();
      });
    });

  let config: ConfigFile;
  let paths: InstancePaths;
  let output: LogOutput;
  try {
    config = opts.readConfig();
    paths = instancePaths(config, opts.stateOverride);
    output = new LogOutput(logSettings(config, paths, mode, opts.debug), secretsOf(config));
  } catch (err) {
    await notify({ ready: false, message: errorText(err), exitCode: exitCodeFor(err) });
    throw err;
  }
  const logger: Logger = createLogger(output.sink, 'debug');
  // A dry run is ad hoc whatever the config says: no pid file, no control socket, so it can
  // look at the plan of an instance whose daemon is stopped without standing in for it.
  const dryRun = opts.dryRun === true && mode === 'foreground';
  const managed = !dryRun && (mode === 'daemon' || config.name !== undefined || config.pidFile !== undefined);
  // Long work shows a live line per target on a terminal (a foreground run), not in a daemon.
  const board = !dryRun && mode === 'foreground' && progressWanted(opts.progress) ? new ProgressBoard().install() : undefined;
  const runnerOptions: RunnerOptions = dryRun
    ? { dryRun: (target, op) => logger.info(`dry run${(runner?.targets.length ?? 0) > 1 ? ` [${target}]` : ''}: ${planLine(op)}`) }
    : board
      ? { progress: (label) => board.view(label) }
      : {};
  const startedAt = Date.now();
  const reloadInfo: { count: number; at?: string; error?: string } = { count: 0 };
  let store: SqliteStore | undefined;
  let runner: SyncRunner | undefined;
  let control: Server | undefined;
  let metrics: MetricsServer | undefined;
  let pidTaken = false;

  const cleanup = async () => {
    if (control) await stopControlServer(control, paths.socket).catch(() => undefined);
    control = undefined;
    await metrics?.close();
    metrics = undefined;
    board?.uninstall();
    if (pidTaken) releasePidFile(paths.pidFile);
    pidTaken = false;
  };

  if (mode === 'daemon') {
    const fatal = (err: unknown) => {
      logger.error(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (pidTaken) releasePidFile(paths.pidFile);
      void output.close().finally(() => process.exit(EXIT.software));
    };
    process.on('uncaughtException', fatal);
  }

  const statusPayload = (): DaemonStatus =>
    maskValue(
      {
        name: paths.name,
        pid: process.pid,
        ...(opts.version !== undefined ? { version: opts.version } : {}),
        startedAt: new Date(startedAt).toISOString(),
        uptimeSec: Math.round((Date.now() - startedAt) / 1000),
        ...(opts.configFile !== undefined ? { config: opts.configFile } : {}),
        pidFile: paths.pidFile,
        statePath: paths.statePath,
        ...(output.path !== undefined ? { logFile: output.path } : {}),
        reload: { ...reloadInfo },
        targets: (runner?.targets ?? []).map((t) => ({ source: t.sourceRoot, ...t.status() })),
      },
      secretsOf(config),
    );

  try {
    if (managed) {
      const taken = acquirePidFile(paths.pidFile);
      pidTaken = true;
      if (taken.replacedStale) logger.info(`removed a stale pid file ${paths.pidFile}${taken.stalePid !== undefined ? ` (pid ${taken.stalePid} is not running)` : ''}`);
      for (const note of paths.notes) logger.info(note);
    }
    logger.debug(`configuration ${opts.configFile ?? '(command line)'}: ${JSON.stringify(maskValue(config, secretsOf(config)), (k, v: unknown) => (SECRET_KEYS.includes(k) ? '***' : v))}`);
    // A dry run plans from a copy of the state store and writes nothing to the file.
    store = dryRun ? SqliteStore.copyOf(paths.statePath) : new SqliteStore(paths.statePath);
    if (dryRun) logger.info('dry run: operations are printed, not carried out; the target is not contacted and the state file not written');
    runner = new SyncRunner(config, store, paths.statePath, logger, runnerOptions);
    if (managed) {
      control = await startControlServer(paths.socket, (cmd) => {
        logger.debug(`control socket: ${cmd}`);
        if (cmd === 'status') return statusPayload();
        if (cmd === 'ping') return { pid: process.pid };
        if (cmd === 'allow-delete') {
          const released = runner?.allowDeletes() ?? [];
          for (const t of released) logger.warn(`${t}: the operator confirmed the deletes a safety gate refused`);
          return { released };
        }
        throw new Error(`unknown command ${JSON.stringify(cmd)}`);
      });
    }
    const metricsAt = parseListenAddress(config.metrics);
    if (metricsAt.ok && metricsAt.address) {
      metrics = await startMetricsServer(metricsAt.address, { targets: () => statusPayload().targets, watches: () => runner?.watchCounts() ?? [] });
      logger.info(`metrics at ${metrics.url}`);
    }
    await runner.watch();
    if (managed) logger.info(`${paths.name} running (pid ${process.pid}; log ${output.path ?? 'terminal'}; state ${paths.statePath}; pid file ${paths.pidFile})`);
  } catch (err) {
    if (mode === 'daemon') logger.error(`cannot start: ${errorText(err)}`);
    await runner?.stop().catch(() => undefined);
    store?.close();
    await cleanup();
    await output.close();
    await notify({ ready: false, message: errorText(err), exitCode: exitCodeFor(err) });
    throw err;
  }
  await notify({ ready: true, pid: process.pid, ...(output.path !== undefined ? { logFile: output.path } : {}) });
  // Under a Type=notify unit: READY=1 once the start's reconcile has ended, then watchdog pings and STATUS=.
  const systemd = new SystemdNotifier(notifySettings(process.env, process.pid), logger);
  systemd.start(() => formatStatusLine(statusPayload()));
  void runner.firstReconcile().then(() => systemd.ready(() => formatStatusLine(statusPayload())));

  // Reloads and the shutdown run one after another.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const next = chain.then(task, task);
    chain = next.catch(() => undefined);
    return next;
  };

  const reload = async () => {
    logger.info('SIGHUP: re-reading the configuration and reopening the log');
    systemd.reloading();
    let error: string | undefined;
    try {
      await output.reopen();
    } catch (err) {
      logger.error(`reload: cannot reopen the log: ${errorText(err)}`);
    }
    if (opts.configFile !== undefined) {
      try {
        let next = opts.readConfig();
        const nextPaths = instancePaths(next, opts.stateOverride);
        const fixed: [string, string, string][] = [
          ['instance name', paths.name, nextPaths.name],
          ['pid file', paths.pidFile, nextPaths.pidFile],
          ['state file', paths.statePath, nextPaths.statePath],
          ['metrics address', metricsText(config), metricsText(next)],
        ];
        for (const [what, was, now] of fixed) if (was !== now) logger.warn(`reload: the ${what} changed (${was} → ${now}); that takes a restart, keeping ${was}`);
        next = { ...next, ...(config.name !== undefined ? { name: config.name } : {}), ...(config.pidFile !== undefined ? { pidFile: config.pidFile } : {}) };
        await output.configure(logSettings(next, { ...nextPaths, name: paths.name }, mode, opts.debug), secretsOf(next));
        const fresh = new SyncRunner(next, store!, paths.statePath, logger, runnerOptions);
        await runner!.stop();
        runner = fresh;
        try {
          await runner.watch();
        } catch (err) {
          logger.error(`reload: cannot watch with the new configuration (${errorText(err)}); going back to the previous one`);
          runner = new SyncRunner(config, store!, paths.statePath, logger, runnerOptions);
          await runner.watch();
          throw err;
        }
        config = next;
        logger.info(`reloaded ${opts.configFile}`);
      } catch (err) {
        error = errorText(err);
        logger.error(`reload refused: ${error}; still running the previous configuration`);
      }
    }
    systemd.reloaded();
    reloadInfo.count++;
    reloadInfo.at = logNow().toISOString();
    if (error !== undefined) reloadInfo.error = error;
    else delete reloadInfo.error;
  };

  const code = await new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info(`${signal}: finishing operations in flight, then exiting (pending changes are kept for the next start)`);
      const toldSystemd = systemd.stopping();
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
      // A second signal while stopping is ignored (never a hard kill from here).
      process.on('SIGINT', () => undefined);
      process.on('SIGTERM', () => undefined);
      void serial(async () => {
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          runner!.stop().then(
            () => true,
            (err: unknown) => {
              logger.error(`stopping failed: ${errorText(err)}`);
              return true;
            },
          ),
          new Promise<false>((r) => (timer = setTimeout(() => r(false), STOP_DEADLINE_MS))),
        ]);
        clearTimeout(timer);
        if (finished) store!.close();
        else logger.warn(`operations still in flight after ${STOP_DEADLINE_MS / 1000} s: exiting anyway (they are checked again at the next start)`);
        await cleanup();
        if (managed) logger.info(`${paths.name} stopped`);
        await output.close();
        // STOPPING=1 reaches systemd before the exit (at most 2 s more when it does not answer).
        let wait: NodeJS.Timeout | undefined;
        await Promise.race([toldSystemd, new Promise((r) => (wait = setTimeout(r, 2_000)))]);
        clearTimeout(wait);
        resolve(0);
      });
    };
    const onInt = () => shutdown('SIGINT');
    const onTerm = () => shutdown('SIGTERM');
    const onHup = () => void serial(reload);
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
  });
  return code;
}
