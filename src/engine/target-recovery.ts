/**
 * What a target's start settles before any plan: the store forgets a root that was removed
 * behind our back, temp files and staged directories an interrupted upload left are removed,
 * and renames whose outcome was not recorded are looked up on the target. Used by the
 * per-target loop (target-sync.ts) at every (re)connect, and removeLeftovers between cycles.
 */
import { uncertainFile } from '../core/entry.ts';
import { quotePath } from '../core/names.ts';
import type { Logger } from '../log/logger.ts';
import type { Store } from '../state/store.ts';
import { isTargetError } from '../targets/errors.ts';
import type { Target } from '../targets/target.ts';
import { renameHappened } from './intents.ts';
import { recoverStagedDir } from './staged-dirs.ts';

export interface RecoveryContext {
  readonly target: Target;
  readonly store: Store;
  readonly targetId: number;
  readonly logger: Logger;
}

/**
 * The root existed and was created again: nothing recorded is there any more, so the store
 * forgets it all (records, journalled temps and renames) and the next plan pushes everything.
 */
export function forgetRebuiltRoot({ store, targetId: id, logger }: RecoveryContext): void {
  store.transaction(() => {
    store.deleteSubtree(id, '');
    for (const t of store.temps(id)) store.removeTemp(id, t.path);
    for (const r of store.renames(id)) store.removeRename(id, r.to);
    store.markTargetSeen(id);
  });
  logger.warn(`the target root was missing: created it again; the mirror is rebuilt`);
}

/**
 * Removes what an interrupted upload left on the target: temp files and staged directories
 * journalled in the store (after a crash, a connection lost mid-transfer, or a removal the
 * target refused at the time, e.g. while it was read-only). Between cycles nothing is in
 * flight, so every journalled temp is a leftover. A path the target still refuses keeps its
 * journal entry for the next try (the count of those is returned); a target-wide failure rejects.
 */
export async function removeLeftovers({ target, store, targetId, logger }: RecoveryContext): Promise<number> {
  let refused = 0;
  for (const { path: temp, finalPath, kind } of store.temps(targetId)) {
    try {
      if (kind === 'dir') {
        await recoverStagedDir(target, store, targetId, temp, finalPath, logger);
        continue;
      }
      await target.remove(temp);
    } catch (err) {
      if (isTargetError(err) && err.scope === 'path') {
        // A directory on the way that is a link now (targets/jail.ts) is worth a warning;
        // a refusal of the moment (read-only, permission) is retried quietly.
        const line = `leftover temp ${quotePath(temp)} left in place for now: ${err.message}`;
        if (err.code === 'E_LINK_IN_PATH') logger.warn(line);
        else logger.debug(line);
        refused++;
        continue;
      }
      throw err;
    }
    store.transaction(() => {
      store.removeTemp(targetId, temp);
      // The upload may have reached its final name before the crash without being recorded.
      // Record the path as "ours, content unknown": the next plan re-sends it if the source
      // still has it and removes it if not, instead of leaving an unknown file behind.
      if (finalPath !== '') store.upsert(targetId, uncertainFile(finalPath));
    });
    logger.debug(`removed leftover temp file ${quotePath(temp)}`);
  }
  return refused;
}

/** Renames sent before a crash or a lost reply: done when `from` is gone and `to` is there. */
export async function settleRenames({ target, store, targetId: id, logger }: RecoveryContext): Promise<void> {
  for (const { from, to } of store.renames(id)) {
    const moved = await renameHappened(target, from, to, store.get(id, from)?.kind);
    store.transaction(() => {
      if (moved) store.moveSubtree(id, from, to);
      store.removeRename(id, to);
    });
    logger.debug(`rename ${quotePath(from)} -> ${quotePath(to)} of an interrupted run: ${moved ? 'done, recorded' : 'not done'}`);
  }
}
