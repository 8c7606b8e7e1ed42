/**
 * Verification of what a target holds: lists directories of the target (or all of it) and
 * compares what is there with the store's records of their entries (core/drift.ts). Drift is
 * corrected in the store (a missing entry is forgotten, a changed file becomes uncertain), so
 * the next plan repairs it. `verify`, `once --verify` and verifyIntervalSec go through here.
 */
import { findDrift, type Drift } from '../core/drift.ts';
import { isUncertain, uncertainFile } from '../core/entry.ts';
import { quotePath } from '../core/names.ts';
import type { Logger } from '../log/logger.ts';
import type { GroupCommit } from '../state/group-commit.ts';
import type { Store } from '../state/store.ts';
import { isTargetError } from '../targets/errors.ts';
import type { RemoteEntry, Target } from '../targets/target.ts';
import { walkTarget } from '../targets/walk.ts';

/** Directories a verification lists at once, at most. */
const VERIFY_PARALLEL = 8;
/** Drift lines logged one by one; the rest are counted. */
const DRIFT_LINES = 20;

export interface VerifyContext {
  readonly target: Target;
  readonly store: Store;
  readonly commits: GroupCommit;
  readonly targetId: number;
  readonly logger: Logger;
}

/**
 * Lists `dirs` (or 'all') and returns the drift found, already corrected in the store; or
 * 'root-gone' when the target root itself cannot be listed because it is gone (the caller
 * distrusts the whole store). A directory that is gone is drift itself.
 */
export async function verifyTarget(ctx: VerifyContext, dirs: 'all' | readonly string[]): Promise<Drift[] | 'root-gone'> {
  const { store, target, logger, targetId: id } = ctx;
  const startedAt = Date.now();
  const remote = new Map<string, RemoteEntry>();
  const listed = new Set<string>();
  const gone: Drift[] = [];
  if (dirs === 'all') {
    const all = await listOrGone(target, '', () => walkTarget(target));
    if (all === undefined) return 'root-gone';
    for (const e of all) remote.set(e.path, e);
    listed.add('');
    for (const e of all) if (e.kind === 'dir') listed.add(e.path);
  } else {
    const wanted = [...new Set(dirs)].filter((d) => d === '' || store.get(id, d)?.kind === 'dir');
    // As many listings in flight as the target has connections (a first push's `once`
    // lists every directory it made: this keeps that to a fraction of the push).
    const parallel = Math.max(1, Math.min(target.maxInFlight, VERIFY_PARALLEL));
    // A target that lists many directories per call (Target.listDirs) does them all at once;
    // the root, when it is missing, goes through the single listing (root gone or not).
    const queue = [...wanted];
    if (target.listDirs !== undefined && wanted.length > 1) {
      const got = await target.listDirs(wanted);
      queue.length = 0;
      wanted.forEach((d, i) => {
        const entries = got[i];
        if (entries === undefined) {
          if (d === '') queue.push(d);
          else if (!isUncertain(store.get(id, d)!)) gone.push({ path: d, kind: 'missing', detail: 'directory missing on the target' });
          return;
        }
        listed.add(d);
        for (const e of entries) remote.set(e.path, e);
      });
    }
    const worker = async () => {
      for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
        const entries = await listOrGone(target, d, () => target.list(d));
        if (entries === undefined) {
          if (d !== '' && !isUncertain(store.get(id, d)!)) gone.push({ path: d, kind: 'missing', detail: 'directory missing on the target' });
          continue;
        }
        listed.add(d);
        for (const e of entries) remote.set(e.path, e);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    if (wanted.includes('') && !listed.has('')) return 'root-gone';
  }
  const records = dirs === 'all' ? store.subtree(id, '') : [...listed].flatMap((d) => store.children(id, d));
  const listedDrift = findDrift(records, remote, listed, target.caps.preservesMtime);
  // A listing may leave entries out that are there (nginx's PROPFIND hides dot files): a
  // file missing from it is asked about once more before it counts as missing.
  const confirmed: Drift[] = [];
  for (const d of listedDrift) {
    const known = d.kind === 'missing' ? store.get(id, d.path) : undefined;
    // An object store keeps no empty directory (caps.implicitDirs): not there is as sent.
    if (known?.kind === 'dir' && target.caps.implicitDirs === true) continue;
    if (known?.kind === 'file' && !remote.has(d.path)) {
      const there = await target.stat(d.path);
      if (there?.kind === 'file' && there.size === known.size) continue;
    }
    confirmed.push(d);
  }
  const drift = [...gone, ...confirmed];
  logger.debug(`verified ${listed.size} director${listed.size === 1 ? 'y' : 'ies'} of the target in ${Date.now() - startedAt} ms: ${drift.length} entr${drift.length === 1 ? 'y' : 'ies'} not as sent`);
  if (drift.length === 0) return drift;
  await ctx.commits.write(() => {
    for (const d of drift) {
      if (d.kind === 'missing') store.deleteSubtree(id, d.path);
      else store.upsert(id, uncertainFile(d.path));
    }
  });
  for (const d of drift.slice(0, DRIFT_LINES)) logger.warn(`${quotePath(d.path)}: ${d.detail}, not as sent: repairing`);
  if (drift.length > DRIFT_LINES) logger.warn(`… and ${drift.length - DRIFT_LINES} more entries not as sent: repairing`);
  return drift;
}

/** `list` that reports a missing directory as undefined. */
async function listOrGone<T>(target: Target, dir: string, list: () => Promise<T>): Promise<T | undefined> {
  try {
    return await list();
  } catch (err) {
    if (isTargetError(err) && err.code === 'E_NOT_FOUND' && (dir !== '' || (await target.stat('')) === undefined)) return undefined;
    throw err;
  }
}
