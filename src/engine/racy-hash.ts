/**
 * Racy files (git's term): a file recorded within a clock tick of its last write may have
 * changed without its fingerprint changing, so it is compared by content before a plan.
 */
import { join } from 'node:path';
import { isRacy, RACY_WINDOW_MS, sameFingerprint, type KnownEntry, type LocalEntry } from '../core/entry.ts';
import { hashFile } from '../io/hash-file.ts';
import type { Logger } from '../log/logger.ts';
import type { GroupCommit } from '../state/group-commit.ts';
import type { Store } from '../state/store.ts';

export interface RacyContext {
  readonly sourceRoot: string;
  readonly store: Store;
  readonly commits: GroupCommit;
  readonly targetId: number;
  readonly logger: Logger;
}

/**
 * Files whose record is racy and whose fingerprint looks unchanged get a content hash. The
 * record is found by inode too, so a racy file that was renamed is still compared by content
 * (and renamed, not re-sent).
 */
export async function hashRacy(ctx: RacyContext, local: Map<string, LocalEntry>, known: Map<string, KnownEntry>): Promise<void> {
  const racyByIno = new Map<string, KnownEntry>();
  for (const k of known.values()) if (isRacy(k)) racyByIno.set(k.ino, k);
  if (racyByIno.size === 0) return;
  const settled: KnownEntry[] = [];
  const now = Date.now();
  for (const [path, e] of local) {
    if (e.kind !== 'file') continue;
    const k = known.get(path)?.ino === e.ino ? known.get(path) : racyByIno.get(e.ino);
    if (!k || !sameFingerprint(e, { ...k, path }) || !isRacy(k)) continue;
    try {
      const hash = await hashFile(join(ctx.sourceRoot, path), e.size);
      local.set(path, { ...e, hash });
      // Same bytes as sent, and the clock has moved past the file's mtime: any later write
      // changes the mtime, so the record can be trusted by fingerprint from now on (git's
      // index refresh). Without this, a file sent right after it was written would be
      // hashed again on every reconcile.
      if (k.path === path && hash === k.hash && now - e.mtimeMs >= RACY_WINDOW_MS) settled.push({ ...k, recordedAtMs: now });
    } catch {
      // Vanished or unreadable: leave it; without a hash the planner re-sends a racy file.
    }
  }
  ctx.logger.debug(`compared recently written files by content: ${local.size > 0 ? [...local.values()].filter((e) => e.hash !== undefined).length : 0} hashed, ${settled.length} settled`);
  if (settled.length > 0) {
    await ctx.commits.write(() => {
      for (const k of settled) ctx.store.upsert(ctx.targetId, k);
    });
    for (const k of settled) known.set(k.path, k);
  }
}
