/**
 * Runs operations on a target that takes batches (Target.applyBatch; docs/architecture.md,
 * "The batch capability"): the executor still asks for one op at a time, and each op still
 * ends with its own outcome, but the ops that are ready together travel in one call.
 *
 * Grouping: an op that arrives waits for the end of the current turn of the event loop (the
 * executor launches every ready op in one turn), then goes with all the others that arrived
 * meanwhile, at most MAX_ITEMS per call and at most MAX_CALLS calls at once; ops that arrive
 * while the calls are busy wait for the next one. A lone change therefore leaves at once, and
 * a burst fills large batches by itself, with no timer to tune.
 *
 * Commits are the single ops' (apply-op.ts), per path, in the same store: before the call,
 * one commit journals an intent for each new path (an uncertain record: "may exist"), so a
 * `kill -9` during the call leaves the store knowing what may be there; after it, each
 * result is committed as its single op would have. A put is re-checked after the call (the
 * backend read the file itself, at a moment we do not know): the same inode, size and mtime
 * as planned, or it is recorded as uncertain and looked at again (retry-later). A racy
 * record gets the hash of the file as it is after the call.
 *
 * Directories and their contents together (`joins`, the executor's joining): a put, mkdir or
 * symlink may be handed over while the mkdir of a directory above it is still queued or being
 * sent. It then goes in the same call, after the mkdir (Target.applyBatch creates a directory
 * before what a batch puts in it: one rsync call makes a whole subtree), or, when the mkdir is
 * already in a call in flight, in a call after that one ended. A first push is then a few full
 * calls instead of one call per directory level. When such a mkdir fails, what depended on it
 * and did not arrive is looked at again (retry-later), as if it had been skipped; what the
 * target reports as arrived is recorded (it is there: the directory existed).
 *
 * Ops a batch does not carry (renames, staged directories, publishing) go to applyOp, and so
 * does everything when the target has a bandwidth limit (`bwlimit` paces the streams we send).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { needsContentHash, uncertainDir, uncertainFile } from '../core/entry.ts';
import { toFsPath } from '../core/names.ts';
import type { Op } from '../core/ops.ts';
import { backoffDelay, OP_RETRY } from '../core/retry.ts';
import { TargetError, isTargetError } from '../targets/errors.ts';
import type { BatchItem, BatchResult } from '../targets/target.ts';
import { applyOp, handlePathError, knownEntry, stillAsPlanned, type ApplyContext } from './apply-op.ts';
import type { OpOutcome } from './executor.ts';

/** Paths per call: enough to amortise a process and a handshake, small enough to commit often. */
export const MAX_ITEMS = 1000;
/** Calls in flight at once: one sends while the next gathers. */
export const MAX_CALLS = 2;
const TRANSIENT_ATTEMPTS = 3;

type BatchOp = Extract<Op, { kind: 'put' | 'mkdir' | 'symlink' | 'remove' | 'rmdir' }>;

interface Pending {
  readonly op: BatchOp;
  readonly resolve: (outcome: OpOutcome) => void;
}

/** Whether `op` travels in a batch. */
export function batchable(op: Op): op is BatchOp {
  switch (op.kind) {
    case 'put':
      return op.stagedIn === undefined;
    case 'mkdir':
      return op.staged !== true;
    case 'symlink':
    case 'remove':
    case 'rmdir':
      return true;
    default:
      return false;
  }
}

/**
 * Whether `op` may be handed to the batch applier while `dep` (one of its dependencies) is
 * still running: `dep` makes a directory above `op`'s path, and both travel in batches.
 */
export function batchJoins(op: Op, dep: Op): boolean {
  return dep.kind === 'mkdir' && batchable(dep) && (op.kind === 'put' || op.kind === 'mkdir' || op.kind === 'symlink') && batchable(op) && op.path.startsWith(`${dep.path}/`);
}

export class BatchApplier {
  private queue: Pending[] = [];
  /** Where each op handed over stands: queued, in a call, or ended (ok or not). */
  private readonly state = new Map<number, 'queued' | 'sending' | 'ok' | 'failed'>();
  private scheduled = false;
  private calls = 0;
  /** The context of the latest op (every op of one execution brings an equivalent one). */
  private ctx!: ApplyContext;

  /** Drop-in for applyOp: the executor's `run` for this target. */
  run(ctx: ApplyContext, op: Op): Promise<OpOutcome> {
    // A bandwidth limit paces the bytes we stream; a batch's backend reads the files itself.
    if (ctx.target.applyBatch === undefined || ctx.throttle !== undefined || !batchable(op)) return applyOp(ctx, op);
    this.ctx = ctx;
    this.state.set(op.id, 'queued');
    return new Promise<OpOutcome>((resolve) => {
      this.queue.push({
        op,
        resolve: (outcome) => {
          this.state.set(op.id, outcome.status === 'done' ? 'ok' : 'failed');
          resolve(outcome);
        },
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.queue.length > 0 && this.calls < MAX_CALLS) {
      const batch = this.take();
      if (batch.length === 0) break;
      this.calls++;
      this.send(batch)
        .catch((err: unknown) => {
          const error = err instanceof Error ? err : new Error(String(err));
          for (const p of batch) p.resolve({ status: 'failed', error });
        })
        .finally(() => {
          this.calls--;
          if (this.queue.length > 0) this.schedule();
        });
    }
  }

  /**
   * The next call's ops, in queue order: each op whose joined dependencies are done or ride
   * in this same call before it. One whose dependency is in a call in flight waits; one whose
   * dependency failed is looked at again.
   */
  private take(): Pending[] {
    const batch: Pending[] = [];
    const inBatch = new Set<number>();
    const rest: Pending[] = [];
    for (const p of this.queue) {
      if (batch.length >= MAX_ITEMS) {
        rest.push(p);
        continue;
      }
      let verdict: 'go' | 'wait' | 'failed' = 'go';
      for (const d of p.op.deps) {
        const st = this.state.get(d);
        if (st === undefined || st === 'ok' || inBatch.has(d)) continue;
        if (st === 'failed') {
          verdict = 'failed';
          break;
        }
        verdict = 'wait';
      }
      if (verdict === 'failed') p.resolve({ status: 'retry-later', reason: 'its directory was not made' });
      else if (verdict === 'wait') rest.push(p);
      else {
        batch.push(p);
        inBatch.add(p.op.id);
        this.state.set(p.op.id, 'sending');
      }
    }
    this.queue = rest;
    return batch;
  }

  private async send(batch: readonly Pending[]): Promise<void> {
    const { ctx } = this;
    const { store, targetId, commits } = ctx;
    // Intents first: what this call may create is in the store before it can exist.
    await commits.write(() => {
      for (const { op } of batch) {
        if (store.get(targetId, op.path) !== undefined) continue;
        if (op.kind === 'mkdir') store.upsert(targetId, uncertainDir(op.path));
        else if (op.kind === 'put' || op.kind === 'symlink') store.upsert(targetId, uncertainFile(op.path));
      }
    });
    const items = batch.map(({ op }) => itemOf(op, ctx));
    let results: BatchResult[] | undefined;
    for (let attempt = 0; results === undefined; attempt++) {
      try {
        results = await ctx.target.applyBatch!({ sourceRoot: ctx.sourceRoot, items });
        if (results.length !== items.length) throw new TargetError('E_PROTOCOL', `internal: a batch of ${items.length} paths got ${results.length} results`);
      } catch (err) {
        const error = isTargetError(err) ? err : new TargetError('E_PROTOCOL', err instanceof Error ? err.message : String(err), { cause: err });
        if (error.scope === 'transient' && attempt + 1 < TRANSIENT_ATTEMPTS && !ctx.targetDown?.()) {
          await ctx.sleep(backoffDelay(attempt, OP_RETRY));
          continue;
        }
        ctx.targetDown?.(error);
        for (const p of batch) p.resolve({ status: 'target-down', error });
        return;
      }
    }
    const failedHere = new Set<number>();
    for (let i = 0; i < batch.length; i++) {
      const { op, resolve } = batch[i]!;
      const result = results[i]!;
      if (result.ok) {
        resolve(this.commit(op));
        continue;
      }
      failedHere.add(op.id);
      // Its directory, made in this same call, failed: as if skipped (the directory's own
      // failure is handled and reported on its own).
      if (op.deps.some((d) => failedHere.has(d))) resolve({ status: 'retry-later', reason: 'its directory was not made' });
      else resolve(await this.failed(op, result.error));
    }
  }

  /** One path's success, committed as its single op would be. */
  private commit(op: BatchOp): OpOutcome {
    const { ctx } = this;
    const { store, targetId, commits } = ctx;
    const applied = (bytes: number) => () => ctx.onApplied(op, bytes);
    switch (op.kind) {
      case 'put':
      case 'symlink': {
        const abs = toFsPath(join(ctx.sourceRoot, op.path));
        if (!stillAsPlanned(abs, op.entry)) {
          // What the backend sent is there now and no longer what the source holds (or the
          // source is gone): ours, content unknown, looked at again.
          commits.writeSoon(() => store.upsert(targetId, uncertainFile(op.path))).catch(() => undefined);
          return { status: 'retry-later', reason: 'changed during upload' };
        }
        const hash = op.kind === 'put' && needsContentHash(op.entry.mtimeMs, ctx.now()) ? hashOf(abs) : undefined;
        if (op.kind === 'put' && hash === undefined && needsContentHash(op.entry.mtimeMs, ctx.now())) return { status: 'retry-later', reason: 'changed during upload' };
        const known = knownEntry(ctx, op.entry, hash);
        commits.writeSoon(() => store.upsert(targetId, known)).then(applied(op.kind === 'put' ? op.entry.size : 0), () => undefined);
        return { status: 'done' };
      }
      case 'mkdir':
        commits.writeSoon(() => store.upsert(targetId, knownEntry(ctx, op.entry))).then(applied(0), () => undefined);
        return { status: 'done' };
      case 'remove':
        commits.writeSoon(() => store.delete(targetId, op.path)).then(applied(0), () => undefined);
        return { status: 'done' };
      case 'rmdir':
        commits.writeSoon(() => (op.recursive ? store.deleteSubtree(targetId, op.path) : store.delete(targetId, op.path))).then(applied(0), () => undefined);
        return { status: 'done' };
    }
  }

  /** One path's failure: the single op's rules (apply-op.ts handlePathError). */
  private async failed(op: BatchOp, error: TargetError): Promise<OpOutcome> {
    if (error.scope === 'transient') return { status: 'retry-later', reason: error.message };
    if (error.scope !== 'path') {
      this.ctx.targetDown?.(error);
      return { status: 'target-down', error };
    }
    return handlePathError(this.ctx, op, error).catch((e: unknown) => ({ status: 'target-down' as const, error: e instanceof Error ? e : new Error(String(e)) }));
  }
}

function itemOf(op: BatchOp, ctx: ApplyContext): BatchItem {
  switch (op.kind) {
    case 'put': {
      const known = ctx.store.get(ctx.targetId, op.path);
      return { kind: 'put', path: op.path, size: op.entry.size, replaces: known !== undefined && known.kind === 'file' && known.size > 0 };
    }
    case 'mkdir':
      return { kind: 'mkdir', path: op.path };
    case 'symlink':
      return { kind: 'symlink', path: op.path };
    case 'remove':
      return { kind: 'remove', path: op.path };
    case 'rmdir':
      return { kind: 'rmdir', path: op.path, recursive: op.recursive };
  }
}

/** SHA-256 of the file as it is now; undefined when it cannot be read. */
function hashOf(abs: string | Buffer): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(abs)).digest('hex');
  } catch {
    return undefined;
  }
}
