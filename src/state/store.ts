/**
 * The state store: per target, what the target holds (the source fingerprint of each path we
 * sent), plus a journal of temp files being written (removed after a crash). The interface
 * is synchronous on purpose: better-sqlite3 is synchronous and fast, and no caller ever holds
 * a cursor across an await (that starves WAL checkpoints).
 */
import type { KnownEntry } from '../core/entry.ts';

export interface Store {
  /** The id of a target (created on first use), keyed by source folder + target URL. */
  targetId(key: string): number;
  /** True when the target has never recorded anything (first run: adopt remote files). */
  isNewTarget(target: number): boolean;
  markTargetSeen(target: number): void;
  /** The source root's `dev:ino` recorded at the target's last full sync (safety gates). */
  sourceIdentity(target: number): string | undefined;
  setSourceIdentity(target: number, identity: string): void;
  /**
   * The records of this target can no longer be trusted (its root vanished): the next start
   * verifies them against a listing of the target, as a first run adopts (isNewTarget is
   * true again until markTargetSeen).
   */
  distrustTarget(target: number): void;
  get(target: number, path: string): KnownEntry | undefined;
  /** Entries at or under `dir` ('' = all). */
  subtree(target: number, dir: string): KnownEntry[];
  /** Entries directly in `dir` ('' = the root), not `dir` itself. */
  children(target: number, dir: string): KnownEntry[];
  count(target: number): number;
  upsert(target: number, entry: KnownEntry): void;
  delete(target: number, path: string): void;
  deleteSubtree(target: number, dir: string): void;
  /** Moves `from` and everything under it to `to`, replacing whatever was at `to`. */
  moveSubtree(target: number, from: string, to: string): void;
  /** Runs `fn` in one transaction (batch commits). */
  transaction<T>(fn: () => T): T;
  /**
   * Journals an upload in progress: its temp name and the final path it will be renamed to;
   * `dir` for a staged directory (the default is a file).
   */
  addTemp(target: number, path: string, finalPath: string, kind?: TempKind): void;
  removeTemp(target: number, path: string): void;
  temps(target: number): JournalledTemp[];
  /** Journals a rename about to be sent (see TargetSync.start for what a leftover means). */
  addRename(target: number, from: string, to: string): void;
  removeRename(target: number, to: string): void;
  renames(target: number): JournalledRename[];
  close(): void;
}

export type TempKind = 'file' | 'dir';

export interface JournalledTemp {
  readonly path: string;
  readonly finalPath: string;
  readonly kind: TempKind;
}

export interface JournalledRename {
  readonly from: string;
  readonly to: string;
}
