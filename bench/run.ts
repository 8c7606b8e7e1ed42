/**
 * The benchmark suite: one command runs every case (or the ones named with --case), prints
 * each table as it completes, and rewrites bench/README.md with the machine, the command, the
 * date and all tables.
 *
 *   node --import tsx bench/run.ts [--case ID]... [--runs N] [--quick] [--work DIR] [--list]
 *                                  [--write-readme | --no-readme] [--no-install]
 *
 * See bench/README.md for what each case measures.
 */
import { existsSync, mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Context, type CaseResult } from './lib/context.ts';
import { renderReport } from './lib/report.ts';
import { capTimeWait } from './lib/time-wait.ts';
import { REPO } from './lib/tools.ts';
import { PUSH_CASES, runPushCase } from './cases/push.ts';
import { runLatencyCase } from './cases/latency.ts';
import { runBurstCase } from './cases/burst.ts';
import { runIdleCase, runRestartCase } from './cases/scale.ts';

interface CaseDef {
  readonly id: string;
  /** Runs per case when --runs is not given (the slow 100k cases use fewer). */
  readonly defaultRuns?: number;
  run(ctx: Context): Promise<CaseResult>;
}

const CASES: CaseDef[] = [
  ...PUSH_CASES.map((c) => ({ id: c.id, run: (ctx: Context) => runPushCase(ctx, c) })),
  { id: 'latency-local', run: (ctx) => runLatencyCase(ctx, 'latency-local', 'local') },
  { id: 'latency-sftp', run: (ctx) => runLatencyCase(ctx, 'latency-sftp', 'sftp') },
  { id: 'latency-vsftpd', run: (ctx) => runLatencyCase(ctx, 'latency-vsftpd', 'vsftpd') },
  { id: 'burst-local', run: (ctx) => runBurstCase(ctx, 'burst-local', 'local') },
  { id: 'burst-sftp', run: (ctx) => runBurstCase(ctx, 'burst-sftp', 'sftp') },
  { id: 'latency-rsync-ssh', run: (ctx) => runLatencyCase(ctx, 'latency-rsync-ssh', 'rsync-ssh') },
  { id: 'latency-rsyncd', run: (ctx) => runLatencyCase(ctx, 'latency-rsyncd', 'rsyncd') },
  { id: 'burst-rsync-ssh', run: (ctx) => runBurstCase(ctx, 'burst-rsync-ssh', 'rsync-ssh') },
  { id: 'burst-rsyncd', run: (ctx) => runBurstCase(ctx, 'burst-rsyncd', 'rsyncd') },
  { id: 'restart-100k-local', defaultRuns: 3, run: (ctx) => runRestartCase(ctx, 'restart-100k-local', 'local') },
  { id: 'restart-100k-sftp', defaultRuns: 2, run: (ctx) => runRestartCase(ctx, 'restart-100k-sftp', 'sftp') },
  { id: 'idle-100k', defaultRuns: 1, run: (ctx) => runIdleCase(ctx, 'idle-100k') },
];

const TOOLS = ['lftp', 'rclone', 'rsync', 'lsyncd', 'inotifywait', 'ssh', '/usr/sbin/sshd'];

/**
 * A tmpfs when there is room (the figures then measure the tools, not the disk: on a VM disk a
 * plain `cp -a` of the 10k corpus varied from 0.4 to 9 s with the journal and discards),
 * else bench/.work. --work DIR picks any folder, e.g. to measure a real disk.
 */
function defaultWorkDir(): string {
  try {
    const st = statfsSync('/dev/shm');
    if (st.bavail * st.bsize > 8 * 2 ** 30) return '/dev/shm/sync-inotify-bench';
  } catch {
    // no /dev/shm
  }
  return join(REPO, 'bench/.work');
}

function missingTools(): string[] {
  return TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      case: { type: 'string', multiple: true },
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      work: { type: 'string' },
      list: { type: 'boolean', default: false },
      'write-readme': { type: 'boolean', default: false },
      'no-readme': { type: 'boolean', default: false },
      'no-install': { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  if (values.list) {
    for (const c of CASES) process.stdout.write(`${c.id}\n`);
    return 0;
  }
  const unknown = (values.case ?? []).filter((id) => !CASES.some((c) => c.id === id || c.id.startsWith(`${id}-`)));
  if (unknown.length > 0) {
    process.stderr.write(`unknown case ${unknown.join(', ')}; --list shows the cases\n`);
    return 2;
  }
  const selected = values.case ? CASES.filter((c) => values.case!.some((id) => c.id === id || c.id.startsWith(`${id}-`))) : CASES;

  let missing = missingTools();
  if (missing.length > 0 && !values['no-install'] && process.getuid?.() === 0) {
    process.stderr.write(`missing ${missing.join(', ')}: running bench/install.sh\n`);
    spawnSync('bash', [join(REPO, 'bench/install.sh')], { stdio: 'inherit' });
    missing = missingTools();
  }
  if (missing.length > 0) {
    process.stderr.write(`missing tools: ${missing.join(', ')}; run bench/install.sh as root\n`);
    return 2;
  }

  // Ours runs from dist/ only when the build is newer than every source file; otherwise the
  // bin falls back to the sources through tsx, which starts ~0.3 s slower and would be timed
  // instead. Build first, so the figures are always of the current code as users run it.
  const build = spawnSync(process.execPath, [join(REPO, 'scripts/build.mjs')], { cwd: REPO, stdio: 'inherit' });
  if (build.status !== 0) {
    process.stderr.write('npm run build failed: not benchmarking stale code\n');
    return 2;
  }

  const runsOption = values.runs === undefined ? undefined : Number(values.runs);
  if (runsOption !== undefined && !(Number.isInteger(runsOption) && runsOption > 0)) {
    process.stderr.write('--runs must be a positive whole number\n');
    return 2;
  }
  const workDir = values.work ?? defaultWorkDir();
  // The server fixtures make their folders under os.tmpdir(): keep them on the same file system.
  mkdirSync(join(workDir, 'tmp'), { recursive: true });
  process.env['TMPDIR'] = join(workDir, 'tmp');
  const started = new Date();
  const timeWait = capTimeWait();
  process.stderr.write(`${timeWait.description}\n`);
  const environment = [timeWait.description];
  // Set on some machines for every process (a corporate CA): it makes each Node program read
  // and parse that bundle when it starts (~17 ms here), which measures the machine, not the
  // tool. The tools run without it; the report says so when it was set.
  if (process.env['NODE_EXTRA_CA_CERTS'] !== undefined) {
    delete process.env['NODE_EXTRA_CA_CERTS'];
    environment.push('`NODE_EXTRA_CA_CERTS` (set on this machine) removed from the tools\' environment: with it, every Node program parses that CA bundle at start (~17 ms)');
  }
  const results: CaseResult[] = [];
  const figures = new Map<string, number>();
  const defaultRuns = values.quick ? 1 : 3;
  for (const c of selected) {
    const runs = runsOption ?? (values.quick ? 1 : (c.defaultRuns ?? defaultRuns));
    const ctx = new Context(workDir, runs, values.quick, figures);
    const loadBefore = loadavg()[0] as number;
    try {
      const r0 = await c.run(ctx);
      // The machine may be shared: say how busy it was around each case.
      const r = { ...r0, notes: [...r0.notes, `1-minute load average: ${loadBefore.toFixed(1)} before the case, ${(loadavg()[0] as number).toFixed(1)} after (${cpus().length} CPUs).`] };
      results.push(r);
      process.stdout.write(`\n## ${r.title} (${r.id})\n${r.work}\n\n${r.table}\n${r.notes.map((n) => `- ${n}\n`).join('')}\n`);
    } catch (err) {
      ctx.log(`${c.id} could not run: ${(err as Error).stack ?? String(err)}`);
      results.push({ id: c.id, title: `${c.id}: could not run`, work: 'The case failed before producing figures.', table: `    ${String((err as Error).message).split('\n')[0]}`, notes: [], ratios: [] });
    } finally {
      await ctx.close();
    }
  }

  timeWait.restore();

  process.stdout.write('\n## Key ratios (peer time / ours)\n');
  for (const r of results) for (const line of r.ratios) process.stdout.write(`- ${r.id}: ${line}\n`);

  const command = `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
  const report = renderReport({ results, command, workDir, started, minutes: (Date.now() - started.getTime()) / 60_000, runs: runsOption ?? defaultRuns, environment });
  const full = values.case === undefined;
  if (!values['no-readme']) {
    if (full || values['write-readme']) {
      writeFileSync(join(REPO, 'bench/README.md'), report);
      process.stderr.write('wrote bench/README.md\n');
    } else {
      const dir = join(workDir, 'results');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `partial-${started.toISOString().replace(/[:.]/g, '-')}.md`);
      writeFileSync(file, report);
      process.stderr.write(`wrote ${file} (a partial run; --write-readme to replace bench/README.md)\n`);
    }
  }
  return results.some((r) => r.title.endsWith('could not run')) ? 1 : 0;
}

if (!existsSync(join(REPO, 'node_modules'))) {
  process.stderr.write('node_modules missing: run npm ci first\n');
  process.exit(2);
}
process.exitCode = await main();
// The test-server fixtures register exit hooks that kill leftover sessions.
process.exit();
