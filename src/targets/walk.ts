/**
 * Lists a whole target tree with a few listings in flight (targets pool connections), or,
 * for a target that lists many directories per call (Target.listDirs), one call per level.
 * Temp files of ours are included: callers decide what to do with them.
 */
import { quotePath } from '../core/names.ts';
import { TargetError } from './errors.ts';
import type { RemoteEntry, Target } from './target.ts';

export async function walkTarget(target: Target, dir = '', parallel = 4): Promise<RemoteEntry[]> {
  const out: RemoteEntry[] = [];
  if (target.listDirs !== undefined) {
    // The start is listed alone (its errors as `list` gives them), then level by level.
    let level = [dir];
    let first = true;
    while (level.length > 0) {
      const got = first ? [await target.list(dir)] : await target.listDirs(level);
      first = false;
      const next: string[] = [];
      got.forEach((entries, i) => {
        // A directory that went away between two levels: as `list` would have said.
        if (entries === undefined) throw new TargetError('E_NOT_FOUND', `${quotePath(level[i]!)} not found on ${target.displayName}`, { path: level[i]! });
        for (const e of entries) {
          out.push(e);
          if (e.kind === 'dir') next.push(e.path);
        }
      });
      level = next;
    }
    return out;
  }
  const queue = [dir];
  const worker = async () => {
    while (queue.length > 0) {
      const d = queue.pop()!;
      for (const e of await target.list(d)) {
        out.push(e);
        if (e.kind === 'dir') queue.push(e.path);
      }
    }
  };
  while (queue.length > 0) await Promise.all(Array.from({ length: parallel }, worker));
  return out;
}
