import { adoptionRecords } from '../core/adopt.ts';
import type { Store } from '../state/store.ts';
import type { Target } from '../targets/target.ts';
import { walkTarget } from '../targets/walk.ts';
import { emptyScan, type Scanner } from './scanner.ts';

/**
 * Lists the remote once and records what already matches the source. Returns the count.
 * `keepRecorded`: paths the store has a record of keep it (a verified store, see
 * TargetSync.start); only the others are adopted.
 */
export async function adoptRemote(target: Target, scanner: Scanner, store: Store, targetId: number, options: { keepRecorded?: boolean } = {}): Promise<number> {
  const listing = await walkTarget(target);
  const remote = options.keepRecorded ? listing.filter((e) => store.get(targetId, e.path) === undefined) : listing;
  if (remote.length === 0) return 0;
  const scan = emptyScan();
  await scanner.scanTree('', scan);
  const records = adoptionRecords(scan.entries, remote, target.caps.preservesMtime, Date.now());
  store.transaction(() => {
    for (const r of records) store.upsert(targetId, r);
  });
  return records.length;
}
