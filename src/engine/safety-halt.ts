/**
 * The safety gates as the per-target loop applies them (the verdicts are core/safety.ts):
 * which gates judge which removals, and what a halted target tells the operator.
 */
import type { Op } from '../core/ops.ts';
import { checkSafety, type GateCode, type MaxDelete, type SafetyVerdict, type SourceRootProbe } from '../core/safety.ts';
import type { Store } from '../state/store.ts';

/** How often a target halted by a safety gate looks at the source root again. */
export const HALT_RECHECK_MS = 5_000;

const CONFIRM = 'if the deletes are intended, confirm them with `sync-inotify allow-delete -c FILE` (a one-shot run: `once --allow-delete`)';
export const HALT_ADVICE: Record<GateCode, string> = {
  SOURCE_GONE: 'Re-checking every 5 s; resumes by itself when the source folder is back',
  SOURCE_EMPTY: `Re-checking every 5 s; resumes by itself when the source is back (mounted, restored); ${CONFIRM}`,
  SOURCE_REPLACED: `Re-checking every 5 s; resumes by itself when the source that was mirrored is back (mounted again); ${CONFIRM}`,
  MAX_DELETE: `Raise maxDelete and reload, or ${CONFIRM}`,
};

/**
 * The gates on a plan: the source root's (gone, emptied, replaced) on every removal the
 * source implies, maxDelete on what this cycle would delete now.
 */
export function gatePlan(store: Store, targetId: number, probe: SourceRootProbe, everyRemoval: readonly Op[], ops: readonly Op[], maxDelete: MaxDelete | undefined): SafetyVerdict {
  const knownTotal = store.count(targetId);
  const root = checkSafety({ ops: everyRemoval, source: probe, recordedIdentity: store.sourceIdentity(targetId), knownTotal });
  if (!root.ok) return root;
  return checkSafety({ ops, source: probe, recordedIdentity: undefined, knownTotal, ...(maxDelete ? { maxDelete } : {}) });
}
