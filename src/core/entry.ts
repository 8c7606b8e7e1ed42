/**
 * What one path is, as the engine knows it. Paths are relative to a sync root, POSIX-style,
 * without leading or trailing slash; the root itself is ''.
 */
export type EntryKind = 'file' | 'dir' | 'symlink';

/** A source entry as read by the scanner (lstat, never following links). */
export interface LocalEntry {
  readonly path: string;
  readonly kind: EntryKind;
  /** Bytes for files, 0 otherwise. */
  readonly size: number;
  /** Modification time in milliseconds, with sub-millisecond precision (from nanoseconds). */
  readonly mtimeMs: number;
  /** Inode number as a decimal string (exact for 64-bit inodes). */
  readonly ino: string;
  /** Link text for symlinks. */
  readonly linkTarget?: string;
  /** SHA-256 of the content, only when the engine had to hash it (racy timestamps). */
  readonly hash?: string;
}

/** What the state store says a target holds at a path: the source fingerprint we sent. */
export interface KnownEntry {
  readonly path: string;
  readonly kind: EntryKind;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: string;
  readonly linkTarget?: string;
  /** SHA-256 of the bytes we uploaded, when known. */
  readonly hash?: string;
  /** Wall-clock time (ms) when the record was written. */
  readonly recordedAtMs: number;
}

/**
 * A file we put on the target whose content we cannot vouch for (its upload was cut off by a
 * crash, or the source changed or vanished during it). It matches no source file, so the
 * planner re-sends the path, or removes it when the source no longer has it, instead of
 * leaving an unknown file behind.
 */
export function uncertainFile(path: string): KnownEntry {
  return { path, kind: 'file', size: -1, mtimeMs: -1, ino: '', recordedAtMs: 0 };
}

/**
 * A directory the engine may have created on the target, or may have moved there: its intent
 * was journalled before the mkdir or rename was sent, and no result was recorded since (a
 * crash, a lost reply). The planner treats it as "may exist": it creates it again when the
 * source has it (mkdir is idempotent) and removes it when not (removing a missing path is
 * idempotent). So whatever the engine creates is in the store before it exists, and a restart
 * can always finish or undo it.
 */
export function uncertainDir(path: string): KnownEntry {
  return { path, kind: 'dir', size: -1, mtimeMs: -1, ino: '', recordedAtMs: 0 };
}

/** A record written as an intent (uncertainFile, uncertainDir): what it names may not exist. */
export function isUncertain(known: KnownEntry): boolean {
  return known.size === -1 && known.mtimeMs === -1;
}

/**
 * Same content as far as (kind, size, mtime, inode, link) can tell. The inode matters: a file
 * replaced by another one (mv over, swap, cp -p) may keep size and mtime but not the inode.
 */
export function sameFingerprint(local: LocalEntry, known: KnownEntry): boolean {
  if (local.kind !== known.kind) return false;
  if (local.kind === 'dir') return true;
  if (local.kind === 'symlink') return local.linkTarget === known.linkTarget;
  return local.size === known.size && local.mtimeMs === known.mtimeMs && local.ino === known.ino;
}

/**
 * File times advance in coarse ticks: a rewrite at the same size within one tick keeps
 * (size, mtime). A record whose mtime is this close to the time it was written cannot be
 * trusted by fingerprint alone (git's "racily clean" rule), so its content is compared.
 */
export const RACY_WINDOW_MS = 2_000;

export function isRacy(known: KnownEntry): boolean {
  return known.kind === 'file' && known.recordedAtMs - known.mtimeMs < RACY_WINDOW_MS;
}

/**
 * Whether a file sent now needs its content hash recorded. The stored hash is only ever
 * compared for racy records, and a record made at or after `nowMs` of a file last modified
 * RACY_WINDOW_MS or more before it is not racy, nor does it become racy later (both times
 * are fixed until the file changes and is sent again). A first push of an existing tree
 * hashes nothing.
 */
export function needsContentHash(mtimeMs: number, nowMs: number): boolean {
  return nowMs - mtimeMs < RACY_WINDOW_MS;
}
