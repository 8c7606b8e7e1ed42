/**
 * Temp names for a plan's uploads, journalled ahead in windows. A temp file must be in the
 * store before it exists on the target (so a crash's leftovers can be removed); journalling
 * each one just before its upload cost a store commit per file, on the upload's critical
 * path. Here the first upload of a window journals the temp names of the next WINDOW planned
 * uploads in one commit; the others find theirs already there.
 *
 * Contract: `reserve(op)` resolves with a temp path that is committed to the store. Temps of
 * operations that never started are handed back by `unstarted()` for the caller to forget;
 * after a crash they are among the journalled temps the next start removes (a remove of a
 * name that never existed is a no-op), at most WINDOW of them.
 */
import type { PutOp } from '../core/ops.ts';
import { randomToken, tempPathFor } from '../core/temp-name.ts';

export interface TempRow {
  readonly tempPath: string;
  readonly finalPath: string;
}

/** Uploads whose temp names one commit journals. */
export const TEMP_WINDOW = 64;

export class TempReservations {
  private readonly reserved = new Map<PutOp, { tempPath: string; committed: Promise<void> }>();
  private readonly started = new Set<PutOp>();
  /** The plan's uploads, in the order they are expected to start. */
  private readonly planned: PutOp[] = [];
  private cursor = 0;

  /**
   * @param journal commits rows to the store (resolves once they are durable)
   */
  constructor(
    private readonly journal: (rows: readonly TempRow[]) => Promise<void>,
    private readonly window = TEMP_WINDOW,
  ) {}

  /** More planned uploads (a plan made while the scan goes on arrives in batches). */
  plan(puts: Iterable<PutOp>): void {
    for (const op of puts) this.planned.push(op);
  }

  async reserve(op: PutOp): Promise<string> {
    this.started.add(op);
    let slot = this.reserved.get(op);
    if (slot === undefined) {
      const batch = [op, ...this.nextUnreserved(this.window - 1)];
      const rows = batch.map((o) => ({ op: o, tempPath: tempPathFor(o.path, randomToken()) }));
      const committed = this.journal(rows.map((r) => ({ tempPath: r.tempPath, finalPath: r.op.path })));
      for (const r of rows) this.reserved.set(r.op, { tempPath: r.tempPath, committed });
      slot = this.reserved.get(op)!;
    }
    await slot.committed;
    return slot.tempPath;
  }

  /** Journalled temp paths of uploads that never started. */
  unstarted(): string[] {
    return [...this.reserved].filter(([op]) => !this.started.has(op)).map(([, slot]) => slot.tempPath);
  }

  private nextUnreserved(count: number): PutOp[] {
    const out: PutOp[] = [];
    while (out.length < count && this.cursor < this.planned.length) {
      const op = this.planned[this.cursor++]!;
      if (!this.reserved.has(op) && !this.started.has(op)) out.push(op);
    }
    return out;
  }
}
