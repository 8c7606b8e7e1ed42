/**
 * First run against a target that already holds files (README: How it behaves, Durable): entries that match
 * the source are recorded as if we had sent them, instead of being uploaded again. Files
 * match on size, and on mtime too when the target keeps mtimes (to the second: servers round).
 * Anything that does not match is not recorded: the plan then overwrites what the source has
 * and leaves remote extras alone (we only delete what we know we put there).
 */
import type { KnownEntry, LocalEntry } from './entry.ts';

export interface RemoteFacts {
  readonly path: string;
  readonly kind: LocalEntry['kind'];
  readonly size: number;
  readonly mtimeMs?: number;
  readonly linkTarget?: string;
}

export function adoptionRecords(local: ReadonlyMap<string, LocalEntry>, remote: Iterable<RemoteFacts>, compareMtime: boolean, nowMs: number): KnownEntry[] {
  const out: KnownEntry[] = [];
  for (const r of remote) {
    const l = local.get(r.path);
    if (!l || l.kind !== r.kind || r.path === '') continue;
    if (l.kind === 'file') {
      if (l.size !== r.size) continue;
      if (compareMtime && (r.mtimeMs === undefined || Math.floor(l.mtimeMs / 1000) !== Math.floor(r.mtimeMs / 1000))) continue;
    }
    if (l.kind === 'symlink' && l.linkTarget !== r.linkTarget) continue;
    // recordedAt far from mtime: an adopted file is not "racy"; its fingerprint is trusted.
    out.push({ ...l, recordedAtMs: nowMs });
  }
  return out;
}
