/**
 * Runs a plan's operations in dependency order with a concurrency limit. It knows nothing of
 * targets: `run` executes one op and says how it ended. An op that did not succeed takes its
 * dependents with it (they are reported as skipped). `stop()` lets in-flight ops finish and
 * launches nothing more (graceful shutdown, or a target that went down).
 *
 * The plan is either a whole list, or a feed of batches that arrive while earlier ones run
 * (a first push plans while it scans: see TargetSync). In a feed an op may depend on ops of
 * earlier batches, finished or not, never on later ones. Besides `deps` (must succeed), an op
 * may name ops in `after`: those must have ended, whichever way (skipped counts as ended). Once the executor stops, it takes
 * no more batches (the feed's iterator is closed).
 *
 * Joining: a runner that sends ops in groups (engine/batch-apply.ts) may take an op while a
 * dependency is still running, when it can order the two itself (a directory and the files in
 * it, created by one rsync call). `joins(op, dep)` says so; such an op starts as soon as each
 * of its dependencies has ended well or is running and joinable, and it ends by its own
 * outcome (the runner's business: it never reports done what did not happen), also when the
 * dependency then fails.
 */
import type { Op } from '../core/ops.ts';

export type OpOutcome =
  | { readonly status: 'done' }
  /** Not applied, and the paths must be looked at again (changed during upload, …). */
  | { readonly status: 'retry-later'; readonly reason: string }
  /** Failed for this path only. */
  | { readonly status: 'failed'; readonly error: Error }
  /** Failed in a way that stops the whole target (down, full, login rejected). */
  | { readonly status: 'target-down'; readonly error: Error };

export interface ExecutionReport {
  readonly done: Op[];
  readonly retryLater: Op[];
  readonly failed: { op: Op; error: Error }[];
  /** Not run: a dependency did not succeed, or the run was stopped. */
  readonly skipped: Op[];
  /**
   * Of the skipped, those that never became ready although nothing failed or stopped: their
   * dependencies wait for each other (a planner bug; the caller says so loudly).
   */
  readonly stuck: Op[];
  readonly targetError?: Error;
}

/** A whole plan, or batches of one in dependency order (see the header). */
export type OpFeed = readonly Op[] | AsyncIterable<readonly Op[]>;

export class Executor {
  private stopped = false;

  constructor(private readonly concurrency: number) {}

  stop(): void {
    this.stopped = true;
  }

  async execute(feed: OpFeed, run: (op: Op) => Promise<OpOutcome>, joins?: (op: Op, dep: Op) => boolean): Promise<ExecutionReport> {
    const report = { done: [] as Op[], retryLater: [] as Op[], failed: [] as { op: Op; error: Error }[], skipped: [] as Op[], stuck: [] as Op[], targetError: undefined as Error | undefined };
    const admitted: Op[] = [];
    let feedError: { error: unknown } | undefined;
    /** Outstanding dependencies (`deps` and `after`) per op; -1 once skipped. */
    const waitingOn = new Map<number, number>();
    /** Ops waiting for an op to succeed (its `deps` name it). */
    const dependents = new Map<number, Op[]>();
    /** Ops waiting for an op to end, however it ends (its `after` names it). */
    const followers = new Map<number, Op[]>();
    /** Ops that ended: true when done, false when not (failed, retry-later, skipped). */
    const ended = new Map<number, boolean>();
    /** Ops launched and not ended (joinable dependencies are looked up here). */
    const running = new Map<number, Op>();
    /** Ops made ready before every dependency ended (joined a running one). */
    const joined = new Set<number>();
    // A stack, so the plan runs depth first in its own order: the first op of a batch first, and
    // an op's dependents (first ones first) as soon as it is done.
    const ready: Op[] = [];
    const halted = () => this.stopped || report.targetError !== undefined || feedError !== undefined;

    const waitFor = (waiting: Map<number, Op[]>, id: number, op: Op) => {
      const list = waiting.get(id);
      if (list) list.push(op);
      else waiting.set(id, [op]);
    };
    /** One dependency of each op in `ops` is satisfied; those with none left become ready. */
    const satisfy = (ops: readonly Op[]) => {
      for (let i = ops.length - 1; i >= 0; i--) {
        const d = ops[i]!;
        const left = waitingOn.get(d.id)!;
        if (left < 0) continue; // skipped meanwhile
        waitingOn.set(d.id, left - 1);
        if (left === 1 && !joined.has(d.id)) ready.push(d);
      }
    };
    const skip = (op: Op) => {
      waitingOn.set(op.id, -1);
      ended.set(op.id, false);
      report.skipped.push(op);
      for (const d of dependents.get(op.id) ?? []) if (waitingOn.get(d.id)! >= 0 && !running.has(d.id) && !ended.has(d.id)) skip(d);
      satisfy(followers.get(op.id) ?? []);
    };
    /** `op` just started: dependents that may join it (and whose other dependencies allow) are ready. */
    const joinable = (op: Op) => {
      if (joins === undefined) return;
      for (const d of dependents.get(op.id) ?? []) {
        if (joined.has(d.id) || (waitingOn.get(d.id) ?? -1) <= 0) continue;
        if ((d.after ?? []).some((a) => !ended.has(a))) continue;
        if (!d.deps.every((x) => ended.get(x) === true || (running.has(x) && joins(d, running.get(x)!)))) continue;
        joined.add(d.id);
        ready.push(d);
      }
    };
    const admit = (batch: readonly Op[]) => {
      const runnable: Op[] = [];
      for (const op of batch) {
        admitted.push(op);
        if (op.deps.some((d) => ended.get(d) === false)) {
          skip(op);
          continue;
        }
        const open = op.deps.filter((d) => ended.get(d) !== true);
        const openAfter = (op.after ?? []).filter((d) => !ended.has(d));
        waitingOn.set(op.id, open.length + openAfter.length);
        for (const d of open) waitFor(dependents, d, op);
        for (const d of openAfter) waitFor(followers, d, op);
        if (open.length + openAfter.length === 0) runnable.push(op);
        else if (joins !== undefined && openAfter.length === 0 && open.every((d) => running.has(d) && joins(op, running.get(d)!))) {
          joined.add(op.id);
          runnable.push(op);
        }
      }
      for (let i = runnable.length - 1; i >= 0; i--) ready.push(runnable[i]!);
    };
    const finish = (op: Op, outcome: OpOutcome) => {
      if (outcome.status === 'done') {
        ended.set(op.id, true);
        report.done.push(op);
        satisfy(dependents.get(op.id) ?? []);
        satisfy(followers.get(op.id) ?? []);
        return;
      }
      ended.set(op.id, false);
      if (outcome.status === 'retry-later') report.retryLater.push(op);
      else report.failed.push({ op, error: outcome.error });
      if (outcome.status === 'target-down') report.targetError ??= outcome.error;
      for (const d of dependents.get(op.id) ?? []) if (waitingOn.get(d.id)! >= 0 && !running.has(d.id) && !ended.has(d.id)) skip(d);
      satisfy(followers.get(op.id) ?? []);
    };

    let active = 0;
    let fed = false;
    let allDone: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (allDone = resolve));
    const pump = () => {
      while (!halted() && active < this.concurrency && ready.length > 0) {
        const op = ready.pop()!;
        // A joined op whose dependency failed before it started was skipped meanwhile.
        if (ended.has(op.id)) continue;
        active++;
        running.set(op.id, op);
        const result = run(op);
        joinable(op);
        result
          .catch((error: unknown): OpOutcome => ({ status: 'failed', error: error instanceof Error ? error : new Error(String(error)) }))
          .then((outcome) => {
            active--;
            running.delete(op.id);
            finish(op, outcome);
            pump();
          });
      }
      if (active === 0 && (fed || halted())) allDone();
    };

    if (!isOpList(feed)) {
      try {
        for await (const batch of feed) {
          if (halted()) break; // closes the feed
          admit(batch);
          pump();
        }
      } catch (error) {
        // A feed that fails launches nothing more; what runs finishes, then the error is the caller's.
        feedError = { error };
      }
    } else {
      admit(feed);
    }
    fed = true;
    pump();
    await finished;
    if (feedError) throw feedError.error;
    // Whatever never became ready is skipped: stopped, or (nothing stopped it) stuck in a cycle.
    const stopped = halted();
    for (const op of admitted) {
      if (ended.has(op.id)) continue;
      report.skipped.push(op);
      if (!stopped) report.stuck.push(op);
    }
    return report;
  }
}

export function isOpList(feed: OpFeed): feed is readonly Op[] {
  return Array.isArray(feed);
}
