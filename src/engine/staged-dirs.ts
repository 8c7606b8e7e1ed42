/**
 * The staged directories of one plan's execution (see core/plan-creations.ts): a new
 * directory created under a temp name, its files written in place inside it, and one rename
 * that publishes it whole.
 *
 * Contract:
 *   - `create` journals the temp name (kind 'dir') before the directory exists on the target,
 *     so that a crash's leftover is found at the next start (recoverStagedDir).
 *   - Files sent into it are recorded under their final paths as they finish, as any upload
 *     is, though the target shows them under the temp name until the publish. Nothing reads
 *     those records before the publish or the discard (the next plan comes after this one),
 *     and after a crash they tell which files inside the leftover are whole.
 *   - `publish` renames it to its final name when none of its puts failed. A failed put may
 *     have left part of a file inside (its removal is best effort), so then, or when the
 *     rename is refused, the staged directory is removed instead with its records, and its
 *     path is looked at again: the next cycle sends it the ordinary way, file by file.
 */
import { uncertainDir, uncertainFile, type KnownEntry } from '../core/entry.ts';
import { quotePath } from '../core/names.ts';
import type { MkdirOp, PublishOp } from '../core/ops.ts';
import { randomToken, tempPathFor } from '../core/temp-name.ts';
import type { GroupCommit } from '../state/group-commit.ts';
import type { Logger } from '../log/logger.ts';
import type { Store } from '../state/store.ts';
import { TargetError } from '../targets/errors.ts';
import type { Target } from '../targets/target.ts';
import { walkTarget } from '../targets/walk.ts';
import type { OpOutcome } from './executor.ts';

interface Staged {
  readonly tempPath: string;
  /** A put into it failed: it is not published. */
  spoiled: boolean;
}

export class StagedDirs {
  /** By final path. */
  private readonly dirs = new Map<string, Staged>();

  constructor(
    private readonly target: Target,
    private readonly store: Store,
    private readonly commits: GroupCommit,
    private readonly targetId: number,
  ) {}

  /** Journals a temp name for the staged mkdir `op`, then creates that directory. */
  async create(op: MkdirOp): Promise<void> {
    const tempPath = tempPathFor(op.path, randomToken());
    await this.commits.write(() => this.store.addTemp(this.targetId, tempPath, op.path, 'dir'));
    try {
      await this.target.mkdir(tempPath);
    } catch (err) {
      // Nothing was created: no leftover to remember.
      await this.commits.write(() => this.store.removeTemp(this.targetId, tempPath)).catch(() => undefined);
      throw err;
    }
    this.dirs.set(op.path, { tempPath, spoiled: false });
  }

  /** Where the file `path` of the staged directory `dir` is written: inside its temp name. */
  pathOf(dir: string, path: string): string {
    return this.staged(dir).tempPath + path.slice(dir.length);
  }

  /** A put into `dir` failed: the directory is removed rather than published. */
  spoil(dir: string): void {
    const staged = this.dirs.get(dir);
    if (staged) staged.spoiled = true;
  }

  /**
   * Publishes the staged directory (see the header). Rejects with a TargetError when the
   * target fails in a way that is not about this path (the caller's retry and pause apply).
   * The store writes go after the puts' gathered records (GroupCommit keeps the order).
   */
  async publish(op: PublishOp, now: number): Promise<OpOutcome> {
    const staged = this.staged(op.path);
    const write = (fn: () => void) => this.commits.write(fn);
    const published = !staged.spoiled && (await renameIntoPlace(this.target, staged.tempPath, op.path));
    if (published) {
      await write(() => {
        this.store.removeTemp(this.targetId, staged.tempPath);
        this.store.upsert(this.targetId, { ...op.entry, recordedAtMs: now });
      });
    } else {
      await discard(this.target, this.store, this.targetId, staged.tempPath, op.path, write);
    }
    this.dirs.delete(op.path);
    if (published) return { status: 'done' };
    return { status: 'retry-later', reason: staged.spoiled ? 'a file in the new directory failed: sending it file by file' : 'the new directory could not be put in place: sending it file by file' };
  }

  private staged(dir: string): Staged {
    const staged = this.dirs.get(dir);
    if (staged === undefined) throw new Error(`internal: ${quotePath(dir)} is not a staged directory`);
    return staged;
  }
}

/**
 * Renames a staged directory to its final name. False when the target refused it for this
 * path (something in the way); other failures reject (the target is down: try again later).
 */
async function renameIntoPlace(target: Target, temp: string, finalPath: string): Promise<boolean> {
  if (!target.rename) return false;
  try {
    await target.rename(temp, finalPath);
    return true;
  } catch (err) {
    if (err instanceof TargetError && err.scope === 'path') return false;
    throw err;
  }
}

/** Removes a staged directory with what it holds, and forgets the records of what was sent into it. */
async function discard(target: Target, store: Store, targetId: number, temp: string, finalPath: string, write: (fn: () => void) => unknown): Promise<void> {
  await target.rmdir(temp, { recursive: true });
  await write(() => {
    store.removeTemp(targetId, temp);
    store.deleteSubtree(targetId, finalPath);
  });
}

/**
 * A staged directory journalled before a crash (or a connection lost mid-push), at the next
 * start:
 *   - Still under its temp name: not published. The files inside that the store records
 *     (by final path, same size) were sent whole; the others (cut off) are removed, and the
 *     directory is published now, so the work done is kept. Should the rename be refused, it
 *     is removed with its records instead.
 *   - Gone: it was published just before the crash, maybe without the last records. Its
 *     final name was new there, so all it holds is ours: the files we sent, and whatever came
 *     after the publish. Every file and directory under it without a record is recorded as
 *     ours, content unknown (uncertainFile, uncertainDir), so the next plan re-sends or
 *     removes it: a subdirectory the source has dropped meanwhile is not left behind.
 */
export async function recoverStagedDir(target: Target, store: Store, targetId: number, temp: string, finalPath: string, logger: Logger): Promise<void> {
  const dirRecord: KnownEntry = { path: finalPath, kind: 'dir', size: 0, mtimeMs: 0, ino: '', recordedAtMs: 0 };
  if ((await target.stat(temp)) === undefined) {
    const records: KnownEntry[] = [];
    if ((await target.stat(finalPath))?.kind === 'dir') {
      records.push(dirRecord);
      for (const e of await walkTarget(target, finalPath)) {
        if (store.get(targetId, e.path) !== undefined) continue;
        if (e.kind === 'file') records.push(uncertainFile(e.path));
        else if (e.kind === 'dir') records.push(uncertainDir(e.path));
      }
    }
    store.transaction(() => {
      store.removeTemp(targetId, temp);
      for (const r of records) store.upsert(targetId, r);
    });
    return;
  }
  const finalOf = (inside: string) => finalPath + inside.slice(temp.length);
  for (const e of await target.list(temp)) {
    const known = store.get(targetId, finalOf(e.path));
    if (e.kind === 'file' && known?.kind === 'file' && known.size === e.size) continue;
    await (e.kind === 'dir' ? target.rmdir(e.path, { recursive: true }) : target.remove(e.path));
  }
  if (await renameIntoPlace(target, temp, finalPath)) {
    store.transaction(() => {
      store.removeTemp(targetId, temp);
      if (store.get(targetId, finalPath) === undefined) store.upsert(targetId, dirRecord);
    });
    logger.debug(`published the staged directory ${quotePath(finalPath)} an interrupted run left`);
  } else {
    await discard(target, store, targetId, temp, finalPath, (fn) => store.transaction(fn));
    logger.debug(`removed the staged directory ${quotePath(temp)} an interrupted run left: its name is taken`);
  }
}
