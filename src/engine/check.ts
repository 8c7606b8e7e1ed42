/**
 * `check`: list the target and compare it with the filtered source, entry by entry. Truthful
 * by construction: it reads both sides now and trusts no store. Files are compared by size,
 * then by content hash where the target can hash, else by mtime where it keeps mtimes. Names
 * are compared exactly (bytes, see core/names.ts) on both sides.
 */
import { join } from 'node:path';
import type { LocalEntry } from '../core/entry.ts';
import { hasEscapedBytes } from '../core/names.ts';
import { compareParentsFirst } from '../core/paths.ts';
import type { RemoteEntry, Target } from '../targets/target.ts';
import { walkTarget } from '../targets/walk.ts';
import { emptyScan, type Scanner } from './scanner.ts';
import { hashFile } from '../io/hash-file.ts';

export interface Difference {
  readonly path: string;
  readonly kind: 'missing' | 'extra' | 'type' | 'size' | 'content' | 'mtime' | 'link';
  readonly detail: string;
}

/** Seconds on the wire: FTP and SFTP carry whole seconds. */
const MTIME_TOLERANCE_MS = 1_000;

export async function checkTarget(sourceRoot: string, scanner: Scanner, target: Target): Promise<Difference[]> {
  const scan = emptyScan();
  await scanner.scanTree('', scan);
  scan.entries.delete('');
  const remote = new Map((await walkTarget(target)).map((e) => [e.path, e]));
  const diffs: Difference[] = [];
  const paths = [...new Set([...scan.entries.keys(), ...remote.keys()])].sort(compareParentsFirst);
  for (const path of paths) {
    const l = scan.entries.get(path);
    const r = remote.get(path);
    if (!r) {
      // An object store keeps no empty directory: its absence is no difference.
      if (l!.kind === 'dir' && target.caps.implicitDirs === true) continue;
      // Why, when we know: this target refuses a name that is not valid UTF-8 (E_NAME).
      const why = !target.caps.byteNames && hasEscapedBytes(path) ? ': its name is not valid UTF-8, which this target cannot carry' : '';
      diffs.push({ path, kind: 'missing', detail: `${l!.kind} missing on the target${why}` });
      continue;
    }
    if (!l) {
      diffs.push({ path, kind: 'extra', detail: `${r.kind} on the target is not in the source` });
      continue;
    }
    const d = await compareEntry(sourceRoot, target, l, r);
    if (d) diffs.push(d);
  }
  return diffs;
}

async function compareEntry(sourceRoot: string, target: Target, l: LocalEntry, r: RemoteEntry): Promise<Difference | undefined> {
  const path = l.path;
  if (l.kind !== r.kind) return { path, kind: 'type', detail: `${l.kind} in the source, ${r.kind} on the target` };
  if (l.kind === 'symlink') {
    return l.linkTarget === r.linkTarget ? undefined : { path, kind: 'link', detail: `link to ${l.linkTarget} in the source, to ${r.linkTarget} on the target` };
  }
  if (l.kind !== 'file') return undefined;
  if (l.size !== r.size) return { path, kind: 'size', detail: `${l.size} bytes in the source, ${r.size} on the target` };
  if (target.hash) {
    const [a, b] = await Promise.all([hashFile(join(sourceRoot, path)), target.hash(path)]);
    return a === b ? undefined : { path, kind: 'content', detail: 'same size, different content' };
  }
  if (target.caps.preservesMtime && r.mtimeMs !== undefined && Math.abs(l.mtimeMs - r.mtimeMs) >= MTIME_TOLERANCE_MS) {
    return { path, kind: 'mtime', detail: `modified ${new Date(l.mtimeMs).toISOString()} in the source, ${new Date(r.mtimeMs).toISOString()} on the target` };
  }
  return undefined;
}

