/**
 * The live progress lines of a terminal (README: Progress): one line per target doing long
 * work, redrawn in place every PROGRESS_REDRAW_MS with ANSI cursor moves (cursor up, clear to
 * the end of the screen), below the log lines (the terminal sink takes the lines off before
 * it writes and puts them back after: log/terminal-overlay.ts). When a target's work ends,
 * its line is replaced by a final line with the totals, which stays.
 *
 * Used only when stdout and stderr are terminals and `--no-progress` is not given; pipes,
 * files and the journal get one log line per operation instead.
 */
import type { ProgressCounts, ProgressView } from '../engine/progress.ts';
import { formatBytes } from '../log/logger.ts';
import { setTerminalOverlay, type TerminalOverlay } from '../log/terminal-overlay.ts';

const PROGRESS_REDRAW_MS = 250;
/** The rate is measured over this much recent time (a pause shows as a lower rate). */
const RATE_WINDOW_MS = 5_000;

const ESC = '\x1b[';

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.max(0, Math.round(s));
  if (t < 60) return `${t} s`;
  const m = Math.floor(t / 60);
  if (m < 60) return `${m} min ${String(t % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

const n = (x: number) => x.toLocaleString('en-US');

/**
 * One live line: files and bytes done of the total, the rate, the time left. `rate` is bytes
 * per second recently; `opsRate` operations per second (for trees of small files, where the
 * count of operations dominates the time).
 */
export function formatProgressLine(label: string, c: ProgressCounts, rate: number, opsRate: number): string {
  const more = c.planComplete ? '' : '+';
  const pct = c.opsTotal > 0 ? Math.floor((c.opsDone / c.opsTotal) * 100) : 0;
  const leftByBytes = rate > 0 ? (c.bytesTotal - c.bytesDone) / rate : Infinity;
  const leftByOps = opsRate > 0 ? (c.opsTotal - c.opsDone) / opsRate : Infinity;
  const left = c.bytesTotal - c.bytesDone > 0 ? Math.max(leftByBytes === Infinity ? leftByOps : leftByBytes, leftByOps === Infinity ? 0 : leftByOps) : leftByOps;
  return `${label}  ${pct}%  ${n(c.filesDone)}/${n(c.filesTotal)}${more} files  ${formatBytes(c.bytesDone)}/${formatBytes(c.bytesTotal)}${more}  ${formatBytes(Math.round(rate))}/s  ${c.planComplete ? `ETA ${formatSeconds(left)}` : 'ETA ? (still scanning)'}`;
}

/** The final line: what was done, how long it took, at what average rate. */
export function formatFinalLine(label: string, c: ProgressCounts, now: number): string {
  const s = Math.max(0.001, (now - c.startedAt) / 1000);
  return `${label}  done: ${n(c.filesDone)} of ${n(c.filesTotal)} files, ${formatBytes(c.bytesDone)} (${n(c.opsDone)} of ${n(c.opsTotal)} operations) in ${formatSeconds(s)}, ${formatBytes(Math.round(c.bytesDone / s))}/s`;
}

interface Row {
  readonly label: string;
  readonly counts: () => ProgressCounts;
  /** Recent (time, bytes done, ops done) samples for the rate. */
  readonly samples: [number, number, number][];
}

export class ProgressBoard implements TerminalOverlay {
  private readonly rows = new Set<Row>();
  /** Lines on the screen now (the cursor is at the start of the line below them). */
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes the terminal: log lines go above the board from now on. */
  install(): this {
    setTerminalOverlay(this);
    return this;
  }

  uninstall(): void {
    this.erase();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    setTerminalOverlay(undefined);
  }

  /** The view of one target (label: its name, with the source when there are several). */
  view(label: string): ProgressView {
    return {
      show: (counts) => {
        const row: Row = { label, counts, samples: [] };
        this.rows.add(row);
        this.timer ??= setInterval(() => this.redraw(), PROGRESS_REDRAW_MS);
        this.timer.unref();
        this.redraw();
        return {
          done: () => {
            if (!this.rows.delete(row)) return;
            this.erase();
            this.out.write(`${this.fit(formatFinalLine(label, counts(), this.now()))}\n`);
            if (this.rows.size === 0 && this.timer) {
              clearInterval(this.timer);
              this.timer = undefined;
            }
            this.draw();
          },
        };
      },
    };
  }

  erase(): void {
    if (this.drawn === 0) return;
    this.out.write(`${ESC}${this.drawn}A\r${ESC}0J`);
    this.drawn = 0;
  }

  draw(): void {
    if (this.rows.size === 0) return;
    const now = this.now();
    let text = '';
    for (const row of this.rows) {
      const c = row.counts();
      row.samples.push([now, c.bytesDone, c.opsDone]);
      while (row.samples.length > 2 && now - row.samples[1]![0] >= RATE_WINDOW_MS) row.samples.shift();
      const [t0, b0, o0] = row.samples[0]!;
      const since = row.samples.length > 1 ? (now - t0) / 1000 : (now - c.startedAt) / 1000;
      const rate = since > 0 ? (row.samples.length > 1 ? c.bytesDone - b0 : c.bytesDone) / since : 0;
      const opsRate = since > 0 ? (row.samples.length > 1 ? c.opsDone - o0 : c.opsDone) / since : 0;
      text += `${ESC}2K${this.fit(formatProgressLine(row.label, c, rate, opsRate))}\n`;
    }
    this.out.write(text);
    this.drawn = this.rows.size;
  }

  private redraw(): void {
    this.erase();
    this.draw();
  }

  /** A line longer than the terminal would wrap and break the cursor arithmetic. */
  private fit(line: string): string {
    const cols = this.out.columns || 120;
    return line.length < cols ? line : `${line.slice(0, Math.max(10, cols - 2))}…`;
  }
}

/** Live progress lines: stdout and stderr are terminals and `--no-progress` was not given. */
export function progressWanted(flag: boolean | undefined): boolean {
  return flag !== false && process.stdout.isTTY === true && process.stderr.isTTY === true;
}
