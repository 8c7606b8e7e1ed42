/**
 * Runs a plan's operations in dependency order with a concurrency limit. It knows nothing of
 * targets: `run` executes one op and says how it ended. An op that did not succeed takes its
 * dependents with it (they are reported as skipped). `stop()` lets in-flight ops finish and
 * launches nothing more (graceful shutdown, or a target that went down).
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
  readonly targetError?: Error;
}

export class Executor {
  private stopped = false;

  constructor(private readonly concurrency: number) {}

  stop(): void {
    this.stopped = true;
  }

  async execute(ops: readonly Op[], run: (op: Op) => Promise<OpOutcome>): Promise<ExecutionReport> {
    const report = { done: [] as Op[], retryLater: [] as Op[], failed: [] as { op: Op; error: Error }[], skipped: [] as Op[], targetError: undefined as Error | undefined };
    const waitingOn = new Map<number, number>();
    const dependents = new Map<number, Op[]>();
    for (const op of ops) {
      waitingOn.set(op.id, op.deps.length);
      for (const d of op.deps) {
        const list = dependents.get(d);
        if (list) list.push(op);
        else dependents.set(d, [op]);
      }
    }
    const ready: Op[] = ops.filter((op) => op.deps.length === 0).reverse();
    const skip = (op: Op) => {
      report.skipped.push(op);
      for (const d of dependents.get(op.id) ?? []) {
        if (waitingOn.get(d.id)! >= 0) {
          waitingOn.set(d.id, -1);
          skip(d);
        }
      }
    };

    let active = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (!this.stopped && report.targetError === undefined && active < this.concurrency && ready.length > 0) {
          const op = ready.pop()!;
          active++;
          run(op)
            .catch((error: unknown): OpOutcome => ({ status: 'failed', error: error instanceof Error ? error : new Error(String(error)) }))
            .then((outcome) => {
              active--;
              if (outcome.status === 'done') {
                report.done.push(op);
                for (const d of dependents.get(op.id) ?? []) {
                  const left = waitingOn.get(d.id)! - 1;
                  waitingOn.set(d.id, left);
                  if (left === 0) ready.push(d);
                }
              } else {
                if (outcome.status === 'retry-later') report.retryLater.push(op);
                else report.failed.push({ op, error: outcome.error });
                if (outcome.status === 'target-down') report.targetError ??= outcome.error;
                for (const d of dependents.get(op.id) ?? []) {
                  if (waitingOn.get(d.id)! >= 0) {
                    waitingOn.set(d.id, -1);
                    skip(d);
                  }
                }
              }
              pump();
            });
        }
        if (active === 0) {
          // Whatever never became ready (stopped, or blocked by a failure) is skipped.
          const accounted = new Set([...report.done, ...report.retryLater, ...report.failed.map((f) => f.op), ...report.skipped].map((o) => o.id));
          for (const op of ops) if (!accounted.has(op.id)) report.skipped.push(op);
          resolve();
        }
      };
      pump();
    });
    return report;
  }
}
