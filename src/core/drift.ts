/**
 * Drift: where the target no longer holds what the state store says (something removed,
 * replaced or rewritten there behind our back, a root that vanished and came back). Pure:
 * given the store's records and a listing of some directories of the target, it names the
 * records the listing contradicts. The engine then corrects the store (forget a missing
 * entry, mark a changed file uncertain) and the next plan repairs the target.
 *
 * Only records whose parent directory was listed are judged (a `once` lists the directories
 * it touched; `verify` lists them all). Our own temp names and entries we did not put there
 * are not drift: we only answer for what we sent. Uncertain records are settled by the plan
 * already and are not judged.
 */
import { isUncertain, type KnownEntry } from './entry.ts';
import { parentOf } from './paths.ts';
import type { RemoteFacts } from './adopt.ts';

export interface Drift {
  readonly path: string;
  /** `missing`: forget the record (and its subtree); `changed`: re-send (uncertain). */
  readonly kind: 'missing' | 'changed';
  readonly detail: string;
}

export function findDrift(
  records: Iterable<KnownEntry>,
  remote: ReadonlyMap<string, RemoteFacts>,
  listed: ReadonlySet<string>,
  compareMtime: boolean,
): Drift[] {
  const out: Drift[] = [];
  for (const k of records) {
    if (k.path === '' || isUncertain(k) || !listed.has(parentOf(k.path))) continue;
    const r = remote.get(k.path);
    if (r === undefined) {
      out.push({ path: k.path, kind: 'missing', detail: `${k.kind} missing on the target` });
      continue;
    }
    if (r.kind !== k.kind) {
      out.push({ path: k.path, kind: 'missing', detail: `${k.kind} expected, ${r.kind} on the target` });
      continue;
    }
    if (k.kind === 'symlink' && r.linkTarget !== undefined && r.linkTarget !== k.linkTarget) {
      out.push({ path: k.path, kind: 'missing', detail: 'link changed on the target' });
    } else if (k.kind === 'file') {
      if (r.size !== k.size) out.push({ path: k.path, kind: 'changed', detail: `${r.size} bytes on the target, ${k.size} sent` });
      // To the second: servers round (as adoption compares).
      else if (compareMtime && r.mtimeMs !== undefined && Math.floor(r.mtimeMs / 1000) !== Math.floor(k.mtimeMs / 1000)) {
        out.push({ path: k.path, kind: 'changed', detail: 'modified on the target' });
      }
    }
  }
  return out;
}
