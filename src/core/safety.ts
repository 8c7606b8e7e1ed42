/**
 * Safety gates (Mutagen's habit): before a plan that deletes runs, check that the deletes are
 * believable. A failed gate halts the target with a reason instead of deleting.
 *
 * The gates look at the source as it is now, not at the part of it a cycle scanned: a cycle
 * that only looks at a few vanished paths (a watch event, a held rename) is gated exactly like
 * a full reconcile. They guard deletions only; a plan that deletes nothing always passes.
 */
import { countRemovals, type Op } from './ops.ts';

export type MaxDelete = { readonly count: number } | { readonly percent: number };

/** Why a gate refused: stable codes for status, logs and tests. */
export type GateCode = 'SOURCE_GONE' | 'SOURCE_EMPTY' | 'SOURCE_REPLACED' | 'MAX_DELETE';

/** What the source root is now, read with one stat and one directory listing. */
export interface SourceRootProbe {
  /** The source root exists and is a directory. */
  readonly present: boolean;
  /** It holds at least one entry that passes the filters. */
  readonly hasEntries: boolean;
  /**
   * Its identity, `dev:ino`: another one than when the target was last synced means another
   * folder (an unmounted file system leaves the mount point's own directory behind).
   */
  readonly identity: string | undefined;
}

export interface SafetyInput {
  readonly ops: readonly Op[];
  readonly source: SourceRootProbe;
  /** The source root's identity recorded at the last full sync that passed the gates. */
  readonly recordedIdentity: string | undefined;
  /** How many entries the store knows for this target in all. */
  readonly knownTotal: number;
  readonly maxDelete?: MaxDelete;
}

export type SafetyVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly code: GateCode };

/**
 * The empty-source gate guards a target holding more than this many entries. Removing the
 * last few entries of a tiny tree is ordinary work (a test folder, a directory made and
 * removed again), and the bare mount point of an unmounted file system is caught whatever
 * its size by the identity gate (SOURCE_REPLACED).
 */
export const EMPTY_SOURCE_MIN_KNOWN = 10;

export function checkSafety(input: SafetyInput): SafetyVerdict {
  const removals = countRemovals(input.ops);
  if (removals === 0) return { ok: true };
  const { source } = input;
  if (!source.present) {
    return { ok: false, code: 'SOURCE_GONE', reason: `the source folder is missing or not a directory (unmounted?): refusing to delete ${removals} entries on the target` };
  }
  if (!source.hasEntries && input.knownTotal > EMPTY_SOURCE_MIN_KNOWN) {
    return { ok: false, code: 'SOURCE_EMPTY', reason: `the source folder is empty but the target holds ${input.knownTotal} entries we sent: refusing to delete them` };
  }
  if (input.recordedIdentity !== undefined && source.identity !== undefined && source.identity !== input.recordedIdentity) {
    return {
      ok: false,
      code: 'SOURCE_REPLACED',
      reason: `the source folder is not the one last mirrored (device:inode ${source.identity}, was ${input.recordedIdentity}: unmounted, or replaced?): refusing to delete ${removals} entries on the target`,
    };
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

/**
 * Whether a halted target should plan again: something about the source root changed since
 * the halt (it came back, was filled, was remounted), or the operator confirmed. Re-planning
 * means a full scan, so a halted daemon does not rescan a large tree every few seconds for
 * nothing; watch events during the halt also lead to a new plan (see TargetSync).
 */
export function probeChanged(atHalt: SourceRootProbe, now: SourceRootProbe): boolean {
  return atHalt.present !== now.present || atHalt.hasEntries !== now.hasEntries || atHalt.identity !== now.identity;
}

/** Parses the config form: 100 or "10%". */
export function parseMaxDelete(value: number | string): MaxDelete | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? { count: value } : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
  if (m) return { percent: Number(m[1]) };
  const n = /^\s*(\d+)\s*$/.exec(value);
  return n ? { count: Number(n[1]) } : undefined;
}
