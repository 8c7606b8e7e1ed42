/**
 * Intents journalled before the engine creates or moves something on a target, so the store
 * never misses what the target holds: after a crash or a lost reply, the next plan or start
 * can finish or undo it.
 *
 *   - A mkdir: an uncertain directory record (core/entry.ts uncertainDir) is committed before
 *     the MKD is sent; the mkdir's result replaces it. The planner treats it as "may exist":
 *     made again when the source has it, removed when not (both idempotent). The intents of a
 *     plan batch's mkdirs are journalled in one commit when the batch is planned (the same
 *     group commit that journals the uploads' temp names), so a cascade of mkdirs costs no
 *     commit per level; a mkdir whose path still had a record then (a file the plan removes
 *     first) journals its own before it starts.
 *   - A rename: the pair (from, to) is journalled before the rename is sent and forgotten in
 *     the commit that moves the records (`settleRename` decides a leftover).
 *
 * Intents of mkdirs that never started (a failure stopped the plan) are forgotten at the end
 * of the execution while they are still uncertain (`forgetUnstarted`); after a crash they are
 * among the uncertain records the next plan settles.
 */
import { isUncertain, uncertainDir } from '../core/entry.ts';
import type { MkdirOp, Op } from '../core/ops.ts';
import type { GroupCommit } from '../state/group-commit.ts';
import type { Store } from '../state/store.ts';
import type { Target } from '../targets/target.ts';

export class MkdirIntents {
  private readonly journalled = new Map<string, Promise<void>>();
  private readonly started = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly commits: GroupCommit,
    private readonly targetId: number,
  ) {}

  /** A batch of the plan: journals its mkdirs' intents in one commit (not awaited here). */
  plan(ops: readonly Op[]): void {
    const paths = ops.filter((op): op is MkdirOp => op.kind === 'mkdir' && op.staged !== true && !this.journalled.has(op.path)).map((op) => op.path);
    if (paths.length === 0) return;
    const committed = this.commits.write(() => {
      for (const p of paths) this.journal(p);
    });
    committed.catch(() => undefined); // `before` reports it
    for (const p of paths) this.journalled.set(p, committed);
  }

  /** Resolves once the intent for `op` is committed. */
  async before(op: MkdirOp): Promise<void> {
    this.started.add(op.path);
    await this.journalled.get(op.path);
    if (this.store.get(this.targetId, op.path) === undefined) await this.commits.write(() => this.journal(op.path));
  }

  /** Forgets the intents of mkdirs that never started (still uncertain: nothing was sent). */
  forgetUnstarted(): void {
    const left = [...this.journalled.keys()].filter((p) => !this.started.has(p));
    if (left.length === 0) return;
    this.store.transaction(() => {
      for (const p of left) {
        const k = this.store.get(this.targetId, p);
        if (k && k.kind === 'dir' && isUncertain(k)) this.store.delete(this.targetId, p);
      }
    });
  }

  private journal(path: string): void {
    if (this.store.get(this.targetId, path) === undefined) this.store.upsert(this.targetId, uncertainDir(path));
  }
}

/**
 * Whether a rename whose outcome is unknown (a journalled leftover, a lost reply, a retry
 * that found nothing at `from`) happened: `from` is gone and `to` holds an entry of the
 * same kind. Anything else counts as not moved; the records of `from` then stay for the
 * planner, which looks again.
 */
export async function renameHappened(target: Target, from: string, to: string, kind?: string): Promise<boolean> {
  const [a, b] = await Promise.all([target.stat(from), target.stat(to)]);
  return a === undefined && b !== undefined && (kind === undefined || b.kind === kind);
}
