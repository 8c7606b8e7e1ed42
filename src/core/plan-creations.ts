/**
 * The plan of a first push, made while the source is still being scanned. When the target
 * holds nothing we know of, plan() reduces to creations: a mkdir per directory, a put per
 * file, a symlink per link (or a problem when the target cannot hold links), each waiting for
 * its parent directory. This planner makes exactly those operations batch by batch, so the
 * first uploads start with the first directories read, instead of after the whole tree has
 * been scanned and planned (a tree of a million files takes tens of seconds to scan).
 *
 * Staged directories. An atomic put costs a rename per file (on FTP two more commands and a
 * round trip in each upload), which in a tree of small files is a tenth of the push. A new
 * directory is invisible until it exists under its name, so when the target can rename
 * directories, a directory of small files is instead created under a temp name (a staged
 * mkdir), its files are written in place inside it, and one rename publishes it whole
 * (PublishOp): one rename per directory, and no half-written file is ever visible under its
 * final name. Its subdirectories and links are created once it is published. Only directories
 * of at least STAGE_MIN_FILES files and at most `maxFiles` files and `maxBytes` bytes are
 * staged: below, nothing is saved; above, a directory would stay out of sight for long, and
 * one file that fails in it costs the whole directory's transfers (it is then discarded and
 * sent file by file: engine/staged-dirs.ts).
 *
 * Contract: entries arrive parents first across batches (a directory before anything under
 * it), and a directory's direct children arrive together, in one batch (the scanner reads a
 * directory whole). A directory's own mkdir is therefore planned when its children arrive
 * (only then is it known whether to stage it); `finish()` plans those of directories whose
 * children never came (empty, unreadable, vanished). The root ('') is not created (it exists
 * on the target, as for plan()). Ids are unique across batches. For the same entries, the
 * batches' operations create what plan() with nothing known creates (a tested property).
 */
import type { LocalEntry } from './entry.ts';
import type { Op, Problem } from './ops.ts';
import { symlinkUnsupported, type Plan, type PlanCapabilities } from './plan.ts';
import { hasEscapedBytes } from './names.ts';
import { parentOf } from './paths.ts';

/** Which directories are staged; `false` stages none. */
export interface StagingLimits {
  readonly maxFiles: number;
  readonly maxBytes: number;
}

/** A directory with fewer files saves nothing by staging (its rename replaces a file's). */
export const STAGE_MIN_FILES = 2;
/** A site's directories of pages and images: staged; a dump of 100,000 files: not. */
export const DEFAULT_STAGING: StagingLimits = { maxFiles: 1000, maxBytes: 64 * 1024 * 1024 };

/** Stands for the root in `readyOp`: it exists on the target, nothing to wait for. */
const ROOT = 0;

export class CreationPlanner {
  private nextId = 1;
  /**
   * Per planned directory, the op its contents wait for: its mkdir, or its publish when
   * staged. The root is there already (ROOT: nothing to wait for).
   */
  private readonly readyOp = new Map<string, number>([['', ROOT]]);
  /** Directories seen whose own mkdir waits for their children, in the order seen. */
  private readonly pending = new Map<string, LocalEntry>();
  private readonly staging: StagingLimits | false;

  constructor(
    private readonly caps: PlanCapabilities,
    staging: StagingLimits | false = DEFAULT_STAGING,
  ) {
    this.staging = caps.rename ? staging : false;
  }

  plan(batch: Iterable<LocalEntry>): Plan {
    const ops: Op[] = [];
    const problems: Problem[] = [];
    for (const [dir, children] of groupByParent(batch)) {
      const self = this.pending.get(dir);
      this.pending.delete(dir);
      const stage = self !== undefined && (this.caps.byteNames !== false || !hasEscapedBytes(dir)) && this.shouldStage(children);
      // What this directory's children wait for: its mkdir, once planned here.
      const made = self === undefined ? this.readyOp.get(dir) : this.mkdir(self, stage, ops);
      const puts: number[] = [];
      const links: LocalEntry[] = [];
      for (const e of children) {
        if (e.kind === 'dir') this.pending.set(e.path, e);
        else if (e.kind === 'file') {
          const id = this.nextId++;
          ops.push({ id, kind: 'put', path: e.path, entry: e, deps: depsOn(made), ...(stage ? { stagedIn: dir } : {}) });
          puts.push(id);
        } else if (this.caps.symlinks) links.push(e);
        else problems.push(symlinkUnsupported(e.path));
      }
      let ready = made;
      if (stage) {
        ready = this.nextId++;
        ops.push({ id: ready, kind: 'publish', path: dir, entry: self, deps: depsOn(made), after: puts });
        this.readyOp.set(dir, ready);
      }
      // Links and (later) subdirectories are created where they will be seen: after the publish.
      for (const e of links) ops.push({ id: this.nextId++, kind: 'symlink', path: e.path, entry: e, deps: depsOn(ready) });
    }
    return { ops, problems };
  }

  /** The mkdirs of directories whose children never arrived: empty, unreadable or vanished. */
  finish(): Plan {
    const ops: Op[] = [];
    for (const e of this.pending.values()) this.mkdir(e, false, ops);
    this.pending.clear();
    return { ops, problems: [] };
  }

  private shouldStage(children: readonly LocalEntry[]): boolean {
    if (this.staging === false) return false;
    let files = 0;
    let bytes = 0;
    for (const e of children) {
      if (e.kind !== 'file') continue;
      files++;
      bytes += e.size;
    }
    return files >= STAGE_MIN_FILES && files <= this.staging.maxFiles && bytes <= this.staging.maxBytes;
  }

  /** Plans the mkdir of `e` after its parent; returns its id. */
  private mkdir(e: LocalEntry, staged: boolean, ops: Op[]): number {
    const id = this.nextId++;
    ops.push({ id, kind: 'mkdir', path: e.path, entry: e, deps: depsOn(this.readyOp.get(parentOf(e.path))), ...(staged ? { staged: true as const } : {}) });
    this.readyOp.set(e.path, id);
    return id;
  }
}

function depsOn(id: number | undefined): number[] {
  return id === undefined || id === ROOT ? [] : [id];
}

/** Entries grouped by parent directory, groups and entries in the order they came. */
function groupByParent(batch: Iterable<LocalEntry>): Map<string, LocalEntry[]> {
  const groups = new Map<string, LocalEntry[]>();
  for (const e of batch) {
    if (e.path === '') continue; // the root: not created
    const parent = parentOf(e.path);
    const group = groups.get(parent);
    if (group) group.push(e);
    else groups.set(parent, [e]);
  }
  return groups;
}
