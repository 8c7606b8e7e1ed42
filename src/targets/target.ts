/**
 * The target contract (rclone's habit: a small set of calls plus declared capabilities; the
 * optional methods are capabilities themselves, see capabilities.ts).
 *
 * Paths are relative to the target root, POSIX style, '' for the root itself, and always pass
 * `isSafeRelativePath`. Every method either resolves or rejects with a `TargetError`.
 * Contract details every backend honours (checked by test/conformance):
 *   - `mkdir` is idempotent and needs the parent to exist.
 *   - `remove` of a missing path resolves (idempotent); `rmdir` likewise.
 *   - `rmdir` without `recursive` on a non-empty directory rejects with E_NOT_EMPTY.
 *   - `put` never leaves half a file under the final name: it writes `tempPath` (in the same
 *     directory) and renames it over `path`; backends without rename (S3) may ignore tempPath.
 *     Without `tempPath`, it writes `path` in place: the engine asks for that only inside a
 *     staged directory, which is not visible under its final name yet.
 *   - `rename` replaces an existing *file* at `to`. A directory renamed onto an existing path
 *     fails (E_EXISTS or another path-level error), or replaces an empty directory as
 *     rename(2) does; nothing at `to` is ever removed to make room for a directory.
 *   - `stat` and `list` report missing paths as `undefined` / E_NOT_FOUND respectively.
 */
import type { PoolStats } from './pool/session-pool.ts';
import type { Readable } from 'node:stream';
import type { EntryKind } from '../core/entry.ts';
import type { TargetError } from './errors.ts';

/**
 * What a method's presence cannot tell. Whether the target renames, makes symbolic links or
 * hashes follows from whether it has `rename`, `symlink`, `hash` (capabilities.ts decides it,
 * in one place): a backend never declares those twice.
 */
export interface TargetCapabilities {
  /**
   * `put` keeps the source mtime (so size+mtime can be compared later). Keeping it is put's
   * job, in the same call (FTP's MFMT before the rename, utimes, a metadata header): the
   * contract has no separate setMtime, because a second call per file costs a round trip and
   * nothing in the engine changes an mtime without sending the content.
   */
  readonly preservesMtime: boolean;
  /** `rmdir(path, {recursive: true})` is one cheap call (else it walks). */
  readonly fastRecursiveRemove: boolean;
  /**
   * Names that are not valid UTF-8 (escaped bytes, core/names.ts) are carried byte for byte.
   * Without it, every call on such a path rejects with E_NAME.
   */
  readonly byteNames: boolean;
  /**
   * Directories are only the prefixes of the names under them (object stores): an empty
   * directory is not kept, `mkdir` may write nothing, `stat` of an empty one is undefined and
   * `list` of a missing one is empty rather than E_NOT_FOUND. Absent: false.
   */
  readonly implicitDirs?: boolean;
  /**
   * `rename` of a directory copies every file under it (object stores): a cheap way to move
   * a tree on the server, but staging a new directory under a temp name would send each file
   * once and copy it once more, so the planner does not stage. Absent: false.
   */
  readonly dirRenameCopies?: boolean;
}

export interface RemoteEntry {
  readonly path: string;
  readonly kind: EntryKind;
  readonly size: number;
  /** Modification time in ms when the server reports a trustworthy one. */
  readonly mtimeMs?: number;
  readonly linkTarget?: string;
}

export interface PutSource {
  readonly size: number;
  readonly mtimeMs: number;
  /**
   * The whole content, already read, for small files: a backend may write it in one call
   * instead of streaming (most files of a site are small, and streams cost per file).
   */
  readonly buffer?: Buffer;
  /** A fresh stream of the bytes to send; the executor hashes what passes through it. */
  open(): Readable;
  /**
   * The source file has holes: fewer bytes allocated than its size (`cp --sparse=auto`'s
   * test). A backend that can leave holes may skip blocks of zeros instead of writing them.
   */
  readonly sparse?: boolean;
}

export interface PutOptions {
  /**
   * Where to write before the final rename; the engine journals it to clean up after a crash.
   * Absent: write `path` in place (see the header).
   */
  readonly tempPath?: string;
}

export interface ConnectOptions {
  /**
   * A large batch follows at once (a first push): a pool may log its other connections in
   * while the first one does, rather than after (see `prewarm`). A login the server rejects
   * then fails on each of those connections once; nothing is retried either way.
   */
  readonly bulk?: boolean;
  /**
   * The root existed before (the store holds records for it). When it is missing now, it is
   * created only if its parent exists: a mirror whose root was removed is rebuilt at once,
   * but a root whose parent is gone too (an unmounted backup disk) is waited for, so nothing
   * is written into the mount point's parent: the connect rejects with E_ROOT_GONE. Without
   * it, a missing root is created with its missing parents (a first setup).
   */
  readonly rootExisted?: boolean;
}

export interface ConnectResult {
  /** The root was missing and this connect created it: the target holds nothing now. */
  readonly rootCreated: boolean;
}

export interface Target {
  /** URL of the target with any password removed: safe for logs and status. */
  readonly displayName: string;
  readonly caps: TargetCapabilities;
  /**
   * Operations worth having in flight at once: the engine's executor runs this many. For a
   * pipelining protocol (SFTP) it is connections × requests per connection, not connections.
   */
  readonly maxInFlight: number;
  /**
   * Open connections, create the root if missing (see ConnectOptions.rootExisted). Rejects
   * with E_AUTH, E_HOST_KEY, E_ROOT_GONE, …
   */
  connect(options?: ConnectOptions): Promise<ConnectResult>;
  /**
   * After a successful connect: start opening every other connection in the background,
   * because a large batch (a first push) is coming. Otherwise pools open extra connections
   * only once the first is busy, which a mostly idle daemon prefers. Failures are ignored
   * here: the pool opens on demand as before.
   */
  prewarm?(): void;
  stat(path: string): Promise<RemoteEntry | undefined>;
  /** Direct children of a directory (not recursive), in any order. */
  list(dir: string): Promise<RemoteEntry[]>;
  /**
   * Optional, for backends that pay per call (rsync: a process and a handshake): the direct
   * children of each of `dirs` in few calls, in `dirs` order; undefined for a directory that
   * is missing (or not a directory). Otherwise the same rules as `list` (the jail: a link on
   * the way or in a directory's place rejects as `list` would). Verification and walks use
   * it when present (engine/verify-target.ts, targets/walk.ts).
   */
  listDirs?(dirs: readonly string[]): Promise<(RemoteEntry[] | undefined)[]>;
  put(path: string, source: PutSource, options: PutOptions): Promise<void>;
  mkdir(path: string): Promise<void>;
  remove(path: string): Promise<void>;
  rmdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Present: renames files and whole directories (capabilities.ts: `rename`). */
  rename?(from: string, to: string): Promise<void>;
  /** Present: creates or replaces a symbolic link (capabilities.ts: `symlinks`). */
  symlink?(path: string, linkTarget: string): Promise<void>;
  /** Present: the SHA-256 of a remote file, hex (capabilities.ts: `hash`). */
  hash?(path: string): Promise<string>;
  /**
   * The batch capability, for backends fastest when handed many paths at once (rsync: one
   * process and one file list per batch instead of one per path). Optional: the engine
   * (engine/batch-apply.ts) then hands this target its ready puts, mkdirs, symlinks,
   * removes and rmdirs in batches instead of calling `put`/`mkdir`/… one by one; renames and
   * staged directories still go through the single calls. Contract:
   *   - the result has one entry per item, in item order: `ok`, or the TargetError for that
   *     path alone (scope 'path', or 'transient' when the path is simply to be tried again);
   *   - a failure of the whole batch (server down, login refused) rejects instead, with the
   *     error every item then shares; nothing is known to have happened then;
   *   - a put reads the source file itself (`sourceRoot` + path), as it is when the backend
   *     reads it: the engine re-checks the file afterwards and records nothing when it moved on;
   *   - each item honours the same rules as its single call (no half file under the final
   *     name, idempotent mkdir/remove/rmdir, E_NOT_EMPTY for a non-recursive rmdir, the jail);
   *   - a mkdir is made before the puts, mkdirs and symlinks below it in the same batch (the
   *     engine sends a directory and its contents together); when it fails, those fail too
   *     or arrive only where the directory already was.
   */
  applyBatch?(batch: Batch): Promise<BatchResult[]>;
  /**
   * Present on backends with a connection pool (pool/session-pool.ts): how it is doing
   * (connections open, busy, idle; operations waiting; reconnects), for `status` and metrics.
   */
  poolStats?(): PoolStats;
  close(): Promise<void>;
}

/** One path of a batch (see Target.applyBatch); paths as everywhere (relative, escaped bytes). */
export type BatchItem =
  | { readonly kind: 'put'; readonly path: string; readonly size: number; /** the target holds an older version we sent (worth a delta) */ readonly replaces: boolean }
  | { readonly kind: 'mkdir'; readonly path: string }
  | { readonly kind: 'symlink'; readonly path: string }
  | { readonly kind: 'remove'; readonly path: string }
  | { readonly kind: 'rmdir'; readonly path: string; readonly recursive: boolean };

export interface Batch {
  /** The local folder the puts' and symlinks' paths are read from. */
  readonly sourceRoot: string;
  readonly items: readonly BatchItem[];
}

export type BatchResult = { readonly ok: true } | { readonly ok: false; readonly error: TargetError };
