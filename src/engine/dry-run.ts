/**
 * `--dry-run` (README: Dry run): the plan's operations as lines, one each, instead of being
 * carried out. Paths are quoted as everywhere else (quotePath); puts and removes show the
 * file's size.
 */
import { describeOp, type Op } from '../core/ops.ts';
import { quotePath } from '../core/names.ts';
import { formatBytes } from '../log/logger.ts';

export function planLine(op: Op): string {
  switch (op.kind) {
    case 'put':
      return `put ${quotePath(op.path)} ${formatBytes(op.entry.size)}`;
    case 'remove':
      return op.known.kind === 'file' ? `remove ${quotePath(op.path)} ${formatBytes(op.known.size)}` : `remove ${quotePath(op.path)}`;
    case 'rmdir':
      return op.recursive ? `${describeOp(op)} (${op.count} entries)` : describeOp(op);
    default:
      return describeOp(op);
  }
}

/** What a dry run planned for one target, for its summary line. */
export class PlanTally {
  ops = 0;
  puts = 0;
  bytes = 0;
  removals = 0;

  add(op: Op): void {
    this.ops++;
    if (op.kind === 'put') {
      this.puts++;
      this.bytes += op.entry.size;
    }
    if (op.kind === 'remove' || op.kind === 'rmdir') this.removals++;
  }

  summary(): string {
    return this.ops === 0
      ? 'nothing to do'
      : `${this.ops} operation${this.ops === 1 ? '' : 's'} planned (${this.puts} put${this.puts === 1 ? '' : 's'}, ${formatBytes(this.bytes)}; ${this.removals} removal${this.removals === 1 ? '' : 's'}); nothing was changed`;
  }
}

/**
 * Prints a dry run's plan: one line per operation, prefixed with the target when there are
 * several, and a summary per target at the end (finish()).
 */
export class DryRunPrinter {
  private targets: readonly string[] = [];
  private readonly tallies = new Map<string, PlanTally>();

  constructor(private readonly out: (line: string) => void) {}

  setTargets(names: readonly string[]): void {
    this.targets = names;
  }

  private prefix(target: string): string {
    return this.targets.length > 1 ? `[${target}] ` : '';
  }

  add(target: string, op: Op): void {
    let tally = this.tallies.get(target);
    if (!tally) this.tallies.set(target, (tally = new PlanTally()));
    tally.add(op);
    this.out(`${this.prefix(target)}${planLine(op)}`);
  }

  /** The summary lines; the tallies start again (a `run --dry-run` prints one per cycle). */
  finish(): void {
    for (const name of this.targets) this.out(`${this.prefix(name)}dry run: ${(this.tallies.get(name) ?? new PlanTally()).summary()}`);
    this.tallies.clear();
  }
}
