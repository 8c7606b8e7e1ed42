/**
 * How far a long piece of work is (a first push, a big reconcile): operations, files and
 * bytes done of those planned. The total grows while a plan arrives in batches (a first push
 * plans while it scans): `planComplete` says when it stops growing. Shown (through a
 * ProgressView, e.g. the terminal's live line, service/progress-line.ts) only once the work is
 * long: PROGRESS_MIN_OPS operations or PROGRESS_MIN_BYTES bytes; smaller plans list their
 * operations in the log instead.
 */
import type { Op } from '../core/ops.ts';

export interface ProgressCounts {
  readonly startedAt: number;
  readonly opsTotal: number;
  readonly opsDone: number;
  readonly filesTotal: number;
  readonly filesDone: number;
  readonly bytesTotal: number;
  readonly bytesDone: number;
  /** The plan is whole: the totals will not grow any more. */
  readonly planComplete: boolean;
}

/** Where progress is shown; `show` is called once the work is long, `done` when it ends. */
export interface ProgressView {
  show(counts: () => ProgressCounts): { done(): void };
}

export const PROGRESS_MIN_OPS = 200;
export const PROGRESS_MIN_BYTES = 64 * 1024 * 1024;

export class Progress {
  private counts = { startedAt: Date.now(), opsTotal: 0, opsDone: 0, filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0, planComplete: false };
  private shownAs: { done(): void } | undefined;

  constructor(private readonly view: ProgressView) {}

  /** Shown now: operation lines go to debug meanwhile. */
  get shown(): boolean {
    return this.shownAs !== undefined;
  }

  plan(ops: readonly Op[]): void {
    const c = this.counts;
    c.opsTotal += ops.length;
    for (const op of ops) {
      if (op.kind !== 'put') continue;
      c.filesTotal++;
      c.bytesTotal += op.entry.size;
    }
    if (this.shownAs === undefined && (c.opsTotal >= PROGRESS_MIN_OPS || c.bytesTotal >= PROGRESS_MIN_BYTES)) this.shownAs = this.view.show(() => ({ ...this.counts }));
  }

  /** The plan will not grow any more. */
  planned(): void {
    this.counts.planComplete = true;
  }

  advance(op: Op, bytes: number): void {
    this.counts.opsDone++;
    if (op.kind === 'put') {
      this.counts.filesDone++;
      this.counts.bytesDone += bytes;
    }
  }

  finish(): void {
    this.counts.planComplete = true;
    this.shownAs?.done();
    this.shownAs = undefined;
  }
}

/** Passes a feed's batches on, showing each to `see` first; `end` when the feed is done. */
export async function* tap(feed: AsyncIterable<readonly Op[]>, see: (ops: readonly Op[]) => void, end: () => void = () => undefined): AsyncGenerator<readonly Op[]> {
  for await (const ops of feed) {
    see(ops);
    yield ops;
  }
  end();
}
