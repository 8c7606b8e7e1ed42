/**
 * Runs one plan (whole, or fed in batches while a first push scans) against a target: the
 * executor (dependency order, N in flight) with apply-op for each operation, the temp-name
 * journal, staged directories and mkdir intents around it, progress on a terminal, and the
 * counters `status` shows. What to do with the outcome is the per-target loop's
 * (target-sync.ts).
 */
import { describeOp, type Op, type PutOp } from '../core/ops.ts';
import { quotePath } from '../core/names.ts';
import { formatBytes, type Logger } from '../log/logger.ts';
import type { GroupCommit } from '../state/group-commit.ts';
import type { Store } from '../state/store.ts';
import type { TargetError } from '../targets/errors.ts';
import type { Target } from '../targets/target.ts';
import { BatchApplier, batchJoins } from './batch-apply.ts';
import { Executor, isOpList, type ExecutionReport, type OpFeed } from './executor.ts';
import { MkdirIntents } from './intents.ts';
import { Progress, tap, type ProgressView } from './progress.ts';
import type { Throttle } from '../targets/throttle.ts';
import { StagedDirs } from './staged-dirs.ts';
import { TempReservations } from './temp-journal.ts';

export interface RunCounters {
  filesSent: number;
  bytesSent: number;
  opsDone: number;
  inFlight: number;
}

export interface PlanRunContext {
  readonly sourceRoot: string;
  readonly target: Target;
  readonly store: Store;
  readonly commits: GroupCommit;
  readonly targetId: number;
  readonly logger: Logger;
  readonly concurrency: number;
  /** Where long work shows its progress (a terminal's live line); none: every op is logged. */
  readonly progress?: ProgressView;
  /** The target's bandwidth limit: every upload's bytes pass through it (apply-op.ts). */
  readonly throttle?: Throttle;
  /** Dry run: each operation is handed here instead of being carried out (target-sync.ts). */
  readonly dryRun?: (op: Op) => void;
  readonly counters: RunCounters;
  /** The executor about to run (so a stop can stop it), then undefined once it ended. */
  readonly running: (executor: Executor | undefined) => void;
  /** The first op to find the target down (shown in `status` at once). */
  readonly firstDown: (err: TargetError) => void;
}

export interface PlanRun {
  readonly report: ExecutionReport;
  /** Journalled temps remain (a removal the target refused): the next cycle removes them. */
  readonly leftovers: boolean;
}

export async function runPlan(ctx: PlanRunContext, plan: OpFeed): Promise<PlanRun> {
  const { logger, store, targetId, counters } = ctx;
  const executor = new Executor(ctx.concurrency);
  ctx.running(executor);
  // Long work on a terminal: a live progress line instead of thousands of operation lines
  // (those go to debug). Logs and pipes keep one line per operation.
  const progress = ctx.progress ? new Progress(ctx.progress) : undefined;
  const opLine = (line: string) => (progress?.shown ? logger.debug(line) : logger.info(line));
  const temps = new TempReservations((rows) => ctx.commits.write(() => rows.forEach((r) => store.addTemp(targetId, r.tempPath, r.finalPath))));
  const staged = new StagedDirs(ctx.target, store, ctx.commits, targetId);
  const intents = new MkdirIntents(store, ctx.commits, targetId);
  const planned = (ops: readonly Op[]) => {
    intents.plan(ops);
    // Files written into a staged directory need no temp name of their own.
    temps.plan(ops.filter((op): op is PutOp => op.kind === 'put' && op.stagedIn === undefined));
    progress?.plan(ops);
  };
  const feed: OpFeed = isOpList(plan) ? (planned(plan), progress?.planned(), plan) : tap(plan, planned, () => progress?.planned());
  // The first op to find the target down shows it in `status` at once (the backoff and the
  // log line follow once the ops in flight have ended).
  let down: TargetError | undefined;
  const targetDown = (err?: TargetError): boolean => {
    if (err !== undefined && down === undefined) {
      down = err;
      ctx.firstDown(err);
    }
    return down !== undefined;
  };
  const batches = new BatchApplier(); // targets that take batches (Target.applyBatch)
  const report = await executor.execute(feed, async (op) => {
    if (ctx.dryRun) {
      ctx.dryRun(op);
      return { status: 'done' };
    }
    counters.inFlight++;
    try {
      return await batches.run(
        {
          sourceRoot: ctx.sourceRoot,
          target: ctx.target,
          store,
          commits: ctx.commits,
          temps,
          staged,
          intents,
          targetId,
          now: Date.now,
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
          targetDown,
          ...(ctx.throttle ? { throttle: ctx.throttle } : {}),
          onApplied: (done, bytes) => {
            counters.opsDone++;
            progress?.advance(done, bytes);
            if (done.kind === 'put') {
              counters.filesSent++;
              counters.bytesSent += bytes;
              opLine(`put ${quotePath(done.path)} ${formatBytes(bytes)}`);
            } else {
              opLine(describeOp(done));
            }
          },
        },
        op,
      );
    } finally {
      counters.inFlight--;
    }
  }, ctx.target.applyBatch !== undefined && ctx.throttle === undefined && ctx.dryRun === undefined ? batchJoins : undefined);
  ctx.running(undefined);
  if (report.stuck.length > 0) {
    // Never expected (core/plan.ts orders every plan acyclically): said loudly, and the paths
    // are looked at again like any skipped op, so the next plan can take another way.
    const first = report.stuck.slice(0, 3).map(describeOp).join('; ');
    logger.error(`internal: ${report.stuck.length} operation(s) waited for each other and did not run (${first}); please report this with a debug log`);
  }
  // Results gathered for one commit are in the store before anything reads it again.
  await ctx.commits.drain();
  progress?.finish();
  const unstarted = temps.unstarted();
  if (unstarted.length > 0) store.transaction(() => unstarted.forEach((t) => store.removeTemp(targetId, t)));
  intents.forgetUnstarted();
  // A temp whose removal failed (the target refused it) stays journalled: the next cycle
  // removes it, not only the next start.
  return { report, leftovers: store.temps(targetId).length > 0 };
}
