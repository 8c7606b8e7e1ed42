/**
 * Safety gates (Mutagen's habit): before a plan that deletes runs, check that the deletes are
 * believable. A failed gate halts the target with a reason instead of deleting.
 */
import { countRemovals, type Op } from './ops.ts';

export type MaxDelete = { readonly count: number } | { readonly percent: number };

export interface SafetyInput {
  readonly ops: readonly Op[];
  /** The source root exists and is a directory. */
  readonly sourceRootPresent: boolean;
  /** The source root has no entries (after filters) — only meaningful for full scans. */
  readonly sourceRootEmpty: boolean;
  /** Whether this plan came from a scan of the whole tree. */
  readonly fullScan: boolean;
  /** How many entries the store knows for this target in all. */
  readonly knownTotal: number;
  readonly maxDelete?: MaxDelete;
}

export type SafetyVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly code: 'SOURCE_GONE' | 'SOURCE_EMPTY' | 'MAX_DELETE' };

export function checkSafety(input: SafetyInput): SafetyVerdict {
  const removals = countRemovals(input.ops);
  if (removals === 0) return { ok: true };
  if (!input.sourceRootPresent) {
    return { ok: false, code: 'SOURCE_GONE', reason: `the source folder is missing or not a directory (unmounted?): refusing to delete ${removals} entries on the target` };
  }
  if (input.fullScan && input.sourceRootEmpty && input.knownTotal > 0) {
    return { ok: false, code: 'SOURCE_EMPTY', reason: `the source folder is empty but the target holds ${input.knownTotal} entries we sent: refusing to delete them (empty the target by hand if this is intended)` };
  }
  const limit = input.maxDelete;
  if (limit !== undefined) {
    if ('count' in limit && removals > limit.count) {
      return { ok: false, code: 'MAX_DELETE', reason: `the plan deletes ${removals} entries, more than maxDelete ${limit.count}` };
    }
    if ('percent' in limit && input.knownTotal > 0 && (removals * 100) / input.knownTotal > limit.percent) {
      const pct = ((removals * 100) / input.knownTotal).toFixed(1);
      return { ok: false, code: 'MAX_DELETE', reason: `the plan deletes ${removals} of ${input.knownTotal} entries (${pct}%), more than maxDelete ${limit.percent}%` };
    }
  }
  return { ok: true };
}

/** Parses the config form: 100 or "10%". */
export function parseMaxDelete(value: number | string): MaxDelete | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? { count: value } : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
  if (m) return { percent: Number(m[1]) };
  const n = /^\s*(\d+)\s*$/.exec(value);
  return n ? { count: Number(n[1]) } : undefined;
}
