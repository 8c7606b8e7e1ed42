/**
 * The plan of a first push, made while the source is still being scanned. When the target
 * holds nothing we know of, plan() reduces to creations: a mkdir per directory, a put per
 * file, a symlink per link (or a problem when the target cannot hold links), each waiting for
 * the mkdir of its parent. This planner makes exactly those operations batch by batch, so the
 * first uploads start with the first directories read, instead of after the whole tree has
 * been scanned and planned (a tree of a million files takes tens of seconds to scan).
 *
 * Contract: entries arrive parents first across batches (a directory before anything under
 * it), as the scanner reads a whole tree; the root ('') is not created (it exists on the
 * target, as for plan()). Ids are unique across batches. For the same entries, the
 * batches' operations together are those of plan() with nothing known (a tested property).
 */
import type { LocalEntry } from './entry.ts';
import type { Op, Problem } from './ops.ts';
import { symlinkUnsupported, type Plan, type PlanCapabilities } from './plan.ts';
import { parentOf } from './paths.ts';

export class CreationPlanner {
  private nextId = 1;
  /** The id of the mkdir of every directory planned so far. */
  private readonly mkdirOf = new Map<string, number>();

  constructor(private readonly caps: PlanCapabilities) {}

  plan(batch: Iterable<LocalEntry>): Plan {
    const ops: Op[] = [];
    const problems: Problem[] = [];
    for (const e of batch) {
      if (e.path === '') continue; // the target root is there already
      const parent = this.mkdirOf.get(parentOf(e.path));
      const base = { id: this.nextId, path: e.path, entry: e, deps: parent === undefined ? [] : [parent] };
      if (e.kind === 'dir') {
        ops.push({ ...base, kind: 'mkdir' });
        this.mkdirOf.set(e.path, base.id);
      } else if (e.kind === 'file') {
        ops.push({ ...base, kind: 'put' });
      } else if (this.caps.symlinks) {
        ops.push({ ...base, kind: 'symlink' });
      } else {
        problems.push(symlinkUnsupported(e.path));
        continue;
      }
      this.nextId++;
    }
    return { ops, problems };
  }
}
