/**
 * Group commit: store writes from concurrent operations share transactions. SQLite spends
 * most of a small write on locking and WAL bookkeeping per transaction, so the number of
 * commits, not the number of rows, is what costs.
 *
 * Two kinds of write:
 *   - `write(fn)`: the caller must not go on before its row is durable (a temp name must be
 *     journalled before the temp file exists). Writes requested within one turn of the event
 *     loop share a transaction, committed on the next turn.
 *   - `writeSoon(fn)`: a result the caller need not wait for (what a finished upload left on
 *     the remote). These gather for up to `soonDelayMs` or `soonBatch` writes, whichever
 *     comes first, so a push of thousands of small files commits a few dozen times instead
 *     of once per file. The returned promise settles when the row is committed; `drain()`
 *     commits what is gathered now and reports whether any of them failed.
 *
 * Contract: every write's promise resolves after its transaction committed, or rejects with
 * the error that rolled it back. A crash between an upload and its commit loses only the
 * record (at most `soonDelayMs` worth): the next start sends those files again (or adopts
 * them on a first run), never a wrong state.
 */
import type { Store } from './store.ts';

interface Pending {
  readonly fn: () => void;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export interface GroupCommitOptions {
  /** Longest a `writeSoon` row waits for others (ms). */
  readonly soonDelayMs?: number;
  /** Rows after which gathered `writeSoon` writes commit at once. */
  readonly soonBatch?: number;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private soon: Pending[] = [];
  private soonTimer: NodeJS.Timeout | undefined;
  /** The first error that rolled back `writeSoon` rows since the last drain(). */
  private soonFailure: unknown;
  private readonly soonDelayMs: number;
  private readonly soonBatch: number;

  constructor(
    private readonly store: Store,
    options: GroupCommitOptions = {},
  ) {
    this.soonDelayMs = options.soonDelayMs ?? 50;
    this.soonBatch = options.soonBatch ?? 512;
  }

  write(fn: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ fn, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          // Gathered results ride along: one commit instead of two.
          const batch = [...this.takeSoon(), ...this.queue];
          this.queue = [];
          this.commit(batch);
        });
      }
    });
  }

  writeSoon(fn: () => void): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.soon.push({
        fn,
        resolve,
        reject: (err) => {
          this.soonFailure ??= err;
          reject(err);
        },
      });
    });
    if (this.soon.length >= this.soonBatch) this.commit(this.takeSoon());
    else this.soonTimer ??= setTimeout(() => this.commit(this.takeSoon()), this.soonDelayMs);
    return done;
  }

  /**
   * Runs `fn` in a transaction now, after the gathered `writeSoon` rows (in the same one), so
   * store changes keep the order in which operations finished. Throws what `fn` throws.
   */
  writeNow<T>(fn: () => T): T {
    return this.transact(this.takeSoon(), fn);
  }

  /**
   * Commits the gathered `writeSoon` rows now; rejects with the first error that rolled any
   * of them back since the last drain (the caller's cycle then fails and is retried).
   * Commits are synchronous, so every `writeSoon` promise is settled once this returns, and
   * reactions attached to them earlier (the operation lines) have run before its caller
   * continues.
   */
  async drain(): Promise<void> {
    if (this.soon.length > 0) this.commit(this.takeSoon());
    const failure = this.soonFailure;
    this.soonFailure = undefined;
    if (failure !== undefined) throw failure;
  }

  private takeSoon(): Pending[] {
    if (this.soonTimer) clearTimeout(this.soonTimer);
    this.soonTimer = undefined;
    const batch = this.soon;
    this.soon = [];
    return batch;
  }

  private commit(batch: readonly Pending[]): void {
    if (batch.length === 0) return;
    try {
      this.transact(batch, () => undefined);
    } catch {
      // Each write's promise carries the error.
    }
  }

  /** The batch's writes, then `last`, in one transaction; settles the batch's promises. */
  private transact<T>(batch: readonly Pending[], last: () => T): T {
    let result: T;
    try {
      result = this.store.transaction(() => {
        for (const w of batch) w.fn();
        return last();
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
      throw err;
    }
    for (const w of batch) w.resolve();
    return result;
  }
}
