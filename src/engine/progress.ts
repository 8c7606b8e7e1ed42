/**
 * Progress of long work on a terminal: a line every few seconds (done/total, bytes, an
 * estimate of time left) instead of thousands of operation lines. Used by the per-target loop
 * (target-sync.ts) when its output is interactive.
 */
import type { Op } from '../core/ops.ts';
import { formatBytes, type Logger } from '../log/logger.ts';

/** Plans smaller than this list their operations instead of showing progress lines. */
const PROGRESS_MIN_OPS = 200;
const PROGRESS_EVERY_MS = 2_000;

/**
 * Counts finished operations and reports done/total, bytes and an estimate of time left. The
 * total grows while a plan arrives in batches; lines start once it reaches PROGRESS_MIN_OPS
 * (`shown`): smaller plans list their operations instead.
 */
export class Progress {
  private total = 0;
  private done = 0;
  private bytes = 0;
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly logger: Logger) {}

  get shown(): boolean {
    return this.timer !== undefined;
  }

  plan(ops: number): void {
    this.total += ops;
    if (this.timer === undefined && this.total >= PROGRESS_MIN_OPS) {
      this.timer = setInterval(() => this.report(), PROGRESS_EVERY_MS);
      this.timer.unref();
    }
  }

  advance(bytes: number): void {
    this.done++;
    this.bytes += bytes;
  }

  private report(): void {
    const elapsed = (Date.now() - this.startedAt) / 1000;
    const left = this.done > 0 ? ((this.total - this.done) * elapsed) / this.done : undefined;
    this.logger.info(`progress: ${this.done} of ${this.total} operations, ${formatBytes(this.bytes)} sent${left !== undefined ? `, about ${Math.ceil(left)} s left` : ''}`);
  }

  finish(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.report();
  }
}

/** Passes a feed's batches on, showing each to `see` first. */
export async function* tap(feed: AsyncIterable<readonly Op[]>, see: (ops: readonly Op[]) => void): AsyncGenerator<readonly Op[]> {
  for await (const ops of feed) {
    see(ops);
    yield ops;
  }
}
