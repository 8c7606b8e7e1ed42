/**
 * The command line. Exit codes are one table (service/exit-codes.ts): 0 success, 1
 * differences or failed operations, 2 bad input (usage, configuration, missing source) or a
 * state file that cannot be used (in use by another process, damaged, not writable), 3 a
 * target could not be reached or refused us.
 */
import { Command, CommanderError, Option } from 'commander';
import { quotePath } from '../core/names.ts';
import { ConfigError } from '../config/errors.ts';
import { AlreadyRunningError } from '../service/pid-file.ts';
import { SyncRunner } from '../engine/sync-runner.ts';
import { checkTarget } from '../engine/check.ts';
import { DryRunPrinter } from '../engine/dry-run.ts';
import { ProgressBoard, progressWanted } from '../service/progress-line.ts';
import { bashCompletion, zshCompletion } from './completion.ts';
import { configHelp } from './config-help.ts';
import { createLogger, terminalSink } from '../log/logger.ts';
import { SqliteStore } from '../state/sqlite-store.ts';
import { StateFileError } from '../state/state-file-error.ts';
import { isTargetError } from '../targets/errors.ts';
import { redactSecrets } from '../log/redact.ts';
import { EXIT, exitCodeFor } from '../service/exit-codes.ts';
import { resolveConfig, statePathFor, type CommonOptions } from './context.ts';
import { packageVersion } from './package-root.ts';
import { allowDeleteCommand } from './allow-delete.ts';
import { targetsHelp } from '../targets/registry.ts';
import { reloadCommand } from './reload.ts';
import { restartCommand } from './restart.ts';
import { runCommand } from './run.ts';
import type { ServeOptions } from './serve.ts';
import { startCommand } from './start.ts';
import { statusCommand, type StatusOptions } from './status.ts';
import { DEFAULT_STOP_TIMEOUT_SEC, stopCommand, type StopOptions } from './stop.ts';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function withCommon(cmd: Command): Command {
  return cmd
    .argument('[source]', 'folder to mirror')
    .argument('[dest]', 'target: a folder, file:///path, ftp://user@host/path, sftp://…, webdav(s)://…')
    .option('-c, --config <file>', 'YAML configuration file, or the original ftp-inotify settings file')
    .option('--state <file>', 'state database (default: named after the instance)')
    .option('--connections <n>', 'parallel operations for the quick form')
    .option('--bwlimit <rate>', 'upload bandwidth limit for the quick form: 10M, 512k, or a timetable "08:00,512k 19:00,off"')
    .option('--exclude <glob>', 'exclude pattern for the quick form (gitignore dialect; repeatable)', collect)
    .option('--target <url>', 'with -c: replace every target of the file by this one (e.g. try a config on a local folder)')
    .option('--debug', 'log every detail');
}

/** The original script's `--start` / `--stop` flags become the commands. */
export function translateLegacyFlags(argv: string[]): string[] {
  const flags = argv.filter((a) => a === '--start' || a === '--stop');
  if (flags.length !== 1) return argv;
  return [flags[0]!.slice(2), ...argv.filter((a) => a !== flags[0])];
}

async function open(source: string | undefined, dest: string | undefined, opts: CommonOptions, plan?: DryRunPrinter, board?: ProgressBoard) {
  const config = resolveConfig(source, dest, opts);
  const logger = createLogger(terminalSink(), opts.debug || config.debug ? 'debug' : 'info');
  const statePath = statePathFor(config, opts);
  // A dry run reads a copy of the state store: the file is left as it is.
  const store = plan ? SqliteStore.copyOf(statePath) : new SqliteStore(statePath);
  try {
    const runner = new SyncRunner(config, store, statePath, logger, plan ? { dryRun: (target, op) => plan.add(target, op) } : board ? { progress: (label) => board.view(label) } : {});
    plan?.setTargets(runner.targets.map((t) => t.name));
    return { config, logger, store, runner };
  } catch (err) {
    store.close();
    throw err;
  }
}

interface OnceOptions extends CommonOptions {
  allowDelete?: boolean;
  /** List the whole target first and repair drift (see SyncRunner.once). */
  verify?: boolean;
  /** Print the plan, change nothing (README: Dry run). */
  dryRun?: boolean;
  /** false with `--no-progress`: no live progress line on a terminal. */
  progress?: boolean;
}

async function onceCommand(source: string | undefined, dest: string | undefined, opts: OnceOptions): Promise<number> {
  if (opts.dryRun) {
    if (opts.verify) throw new ConfigError('--verify lists and repairs the target; a --dry-run never contacts it: give one or the other');
    const plan = new DryRunPrinter((line) => process.stdout.write(`${line}\n`));
    const { store, runner } = await open(source, dest, opts, plan);
    try {
      const { ok } = await runner.once({ allowDelete: opts.allowDelete === true });
      plan.finish();
      return ok ? EXIT.ok : EXIT.failed;
    } finally {
      await runner.stop();
      store.close();
    }
  }
  const board = progressWanted(opts.progress) ? new ProgressBoard().install() : undefined;
  const { logger, store, runner } = await open(source, dest, opts, undefined, board).catch((err: unknown) => {
    board?.uninstall();
    throw err;
  });
  try {
    const { ok, results } = await runner.once({ allowDelete: opts.allowDelete === true, verifyAll: opts.verify === true });
    if (ok) logger.info('in sync');
    else if (results.some((r) => r.targetError)) return EXIT.unavailable;
    else {
      // Which paths are not on the target, and why: the last round's failures and unreadable paths.
      const lines = results.flatMap((r) => [...(r.failures ?? []).map((f) => f.message), ...r.problems.filter((p) => p.code === 'UNREADABLE').map((p) => `${quotePath(p.path)}: ${p.message}`)]);
      logger.error(`not in sync${lines.length > 0 ? `: ${lines.length} path${lines.length === 1 ? '' : 's'} not mirrored` : ': see the messages above'}`);
      for (const line of lines) logger.error(`  not mirrored: ${line}`);
    }
    return ok ? EXIT.ok : EXIT.failed;
  } finally {
    board?.uninstall();
    await runner.stop();
    store.close();
  }
}

async function checkCommand(source: string | undefined, dest: string | undefined, opts: CommonOptions): Promise<number> {
  const { store, runner } = await open(source, dest, opts);
  let differences = 0;
  try {
    for (const t of runner.targets) {
      await t.target.connect();
      const diffs = await checkTarget(t.sourceRoot, t.scanner, t.target);
      for (const d of diffs) process.stdout.write(`${d.kind.padEnd(7)} ${quotePath(d.path)}: ${d.detail}\n`);
      differences += diffs.length;
      process.stdout.write(`${t.name}: ${diffs.length === 0 ? 'in sync' : `${diffs.length} difference${diffs.length === 1 ? '' : 's'}`}\n`);
    }
  } finally {
    await runner.stop();
    store.close();
  }
  return differences === 0 ? EXIT.ok : EXIT.failed;
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('sync-inotify')
    .description('Watch a folder and mirror every change to local folders and remote servers')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addHelpText('after', `\n${targetsHelp()}\n\nEvery configuration key with its default: sync-inotify help config\n`);
  let result: Promise<number> = Promise.resolve(EXIT.ok);
  withCommon(program.command('run'))
    .description('mirror now, then keep watching (foreground, e.g. under systemd; SIGTERM stops, SIGHUP reloads)')
    .addOption(new Option('--daemon', 'internal: the process `start` detaches').hideHelp())
    .option('--dry-run', 'print the plan of the first reconcile, then of every change seen, and carry out nothing (the target is not contacted, the state file not written)')
    .option('--no-progress', 'on a terminal, log every operation instead of a live progress line per target')
    .action((s: string | undefined, d: string | undefined, o: ServeOptions) => {
      result = runCommand(s, d, o);
    });
  withCommon(program.command('start'))
    .description('start the daemon in the background (pid file, log files); refused while it runs')
    .action((s: string | undefined, d: string | undefined, o: CommonOptions) => {
      result = startCommand(s, d, o);
    });
  withCommon(program.command('stop'))
    .description('stop the daemon: finish operations in flight, keep pending changes for the next start')
    .option('--timeout <sec>', `wait this long before SIGKILL (default ${DEFAULT_STOP_TIMEOUT_SEC})`)
    .action((s: string | undefined, d: string | undefined, o: StopOptions) => {
      result = stopCommand(s, d, o);
    });
  withCommon(program.command('restart'))
    .description('stop, then start')
    .option('--timeout <sec>', `wait this long for the stop before SIGKILL (default ${DEFAULT_STOP_TIMEOUT_SEC})`)
    .action((s: string | undefined, d: string | undefined, o: StopOptions) => {
      result = restartCommand(s, d, o);
    });
  withCommon(program.command('reload'))
    .description('re-read the configuration and reopen the log files (SIGHUP)')
    .action((s: string | undefined, d: string | undefined, o: CommonOptions) => {
      result = reloadCommand(s, d, o);
    });
  withCommon(program.command('allow-delete'))
    .description('confirm the deletes a safety gate refused (source emptied, replaced or unmounted on purpose; more than maxDelete)')
    .action((s: string | undefined, d: string | undefined, o: CommonOptions) => {
      result = allowDeleteCommand(s, d, o);
    });
  withCommon(program.command('status'))
    .description('per target: state, queued, in flight, sent, lag, last error (exit 0 running, 3 not running)')
    .option('--json', 'machine-readable output')
    .action((s: string | undefined, d: string | undefined, o: StatusOptions) => {
      result = statusCommand(s, d, o);
    });
  withCommon(program.command('once'))
    .description('one full reconcile, then exit (0 when the target matches)')
    .option('--allow-delete', 'carry out deletes a safety gate would refuse (the source was emptied or replaced on purpose, more than maxDelete)')
    .option('--verify', 'list the whole target first and repair whatever changed there behind our back')
    .option('--dry-run', 'print the plan (mkdir, put, rename, remove, with sizes) and change nothing: neither the target (not even contacted) nor the state file')
    .option('--no-progress', 'on a terminal, log every operation instead of a live progress line per target')
    .action((s: string | undefined, d: string | undefined, o: OnceOptions) => {
      result = onceCommand(s, d, o);
    });
  withCommon(program.command('check'))
    .description('list the target, print every difference from the source, exit 1 if any')
    .action((s: string | undefined, d: string | undefined, o: CommonOptions) => {
      result = checkCommand(s, d, o);
    });
  // `help [command]` as commander's, plus `help config`: the configuration keys.
  program.helpCommand(false);
  const HELP_WORDS = { help: ['config', ...program.commands.map((c) => c.name())], completion: ['bash', 'zsh'] };
  program
    .command('help')
    .argument('[topic]', '`config`, or a command')
    .description('show help for a command, or `help config`: every configuration key with its default')
    .action((topic: string | undefined) => {
      result = Promise.resolve(helpCommand(program, topic));
    });
  program
    .command('completion')
    .argument('<shell>', 'bash or zsh')
    .description('print a shell completion script: source <(sync-inotify completion bash)')
    .action((shell: string) => {
      result = Promise.resolve(completionCommand(program, shell, HELP_WORDS));
    });
  try {
    await program.parseAsync(translateLegacyFlags(argv), { from: 'user' });
    return await result;
  } catch (err) {
    return reportError(err);
  }
}

function helpCommand(program: Command, topic: string | undefined): number {
  if (topic === undefined) program.outputHelp();
  else if (topic === 'config') process.stdout.write(configHelp());
  else {
    const cmd = program.commands.find((c) => c.name() === topic);
    if (cmd === undefined) {
      process.stderr.write(`sync-inotify: no help on "${topic}": try help config, or one of ${program.commands.map((c) => c.name()).join(', ')}\n`);
      return EXIT.usage;
    }
    cmd.outputHelp();
  }
  return EXIT.ok;
}

function completionCommand(program: Command, shell: string, words: Record<string, string[]>): number {
  if (shell === 'bash') process.stdout.write(bashCompletion(program, words));
  else if (shell === 'zsh') process.stdout.write(zshCompletion(program, words));
  else {
    process.stderr.write(`sync-inotify: completion for "${shell}" is not available: use bash or zsh\n`);
    return EXIT.usage;
  }
  return EXIT.ok;
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof AlreadyRunningError) {
    process.stderr.write(`sync-inotify: ${err.message}; use restart, or stop it first\n`);
  } else if (err instanceof StateFileError) {
    process.stderr.write(`sync-inotify: ${err.message} [${err.code}]\n`);
  } else if (err instanceof ConfigError) {
    process.stderr.write(`sync-inotify: ${redactSecrets(err.message)}\n`);
  } else if (isTargetError(err)) {
    process.stderr.write(`sync-inotify: ${redactSecrets(err.message)} [${err.code}]\n`);
  } else {
    process.stderr.write(`sync-inotify: ${redactSecrets(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
  }
  return exitCodeFor(err);
}
