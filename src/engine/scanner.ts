/**
 * Reads the source tree: lstat (never following links) with bigint times, filters applied on
 * the way down (an excluded directory is not descended). Unreadable directories are reported
 * so the planner never deletes beneath them; special files are skipped with a note.
 * Names are kept exactly, valid UTF-8 or not (core/names.ts): paths go to fs calls through
 * `toFsPath`, and a directory listing with a U+FFFD in it is read again as bytes.
 *
 * A restart reads the whole tree again, on purpose: every directory is listed and every entry
 * lstat'ed. Trusting a directory whose mtime, inode and ctime match the store would skip only
 * the listing (its names cannot have changed), never the lstats: writing a file in place
 * changes the file's size, mtime and ctime, not its directory's, so a change made while the
 * daemon was down is seen only by looking at the file itself (target-sync.test.ts, "changes
 * made while the daemon was down"). On the 100,000-file tree the listings are about 5 % of
 * a restart's time, the lstats several times that; what a restart may skip safely is the work
 * after the lstat: a file whose size, mtime and inode match its record is not read (and one
 * whose record is racy is compared by content, engine/racy-hash.ts).
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryKind, LocalEntry } from '../core/entry.ts';
import { typeFilterActive, typeVerdict, type PathFilter, type TypeFilterOptions } from '../core/filter.ts';
import type { Problem } from '../core/ops.ts';
import type { SourceRootProbe } from '../core/safety.ts';
import { decodeName, decodeNames, toFsPath } from '../core/names.ts';
import { ancestorsOf, joinPath } from '../core/paths.ts';
import { extensionTopType, sniffTopType } from './sniff.ts';

export interface ScanOptions {
  readonly root: string;
  readonly filter: PathFilter;
  readonly types: TypeFilterOptions;
}

export interface ScanResult {
  readonly entries: Map<string, LocalEntry>;
  readonly unreadable: string[];
  readonly problems: Problem[];
}

/** A fresh result to accumulate several scans into. */
export function emptyScan(): ScanResult {
  return { entries: new Map(), unreadable: [], problems: [] };
}

/** Entries scanned between two yields to the event loop (a few milliseconds of lstats). */
const YIELD_EVERY = 2000;

export class Scanner {
  /** Verdicts of the type filter by path, valid while size+mtime+ino are unchanged. */
  private readonly typeCache = new Map<string, { key: string; ok: boolean }>();

  constructor(private readonly options: ScanOptions) {}

  private abs(path: string): string {
    return path === '' ? this.options.root : join(this.options.root, path);
  }

  /** True when the path or one of its ancestors is excluded by the path filter. */
  excluded(path: string, isDir: boolean): boolean {
    if (path === '') return false;
    if (!this.options.filter.accepts(path, isDir)) return true;
    return ancestorsOf(path).some((a) => !this.options.filter.accepts(a, true));
  }

  /**
   * lstat one path into an entry. Undefined when it does not exist (or is excluded);
   * special files and unreadable paths add a problem and return undefined.
   */
  async statPath(path: string, into: ScanResult): Promise<LocalEntry | undefined> {
    const entry = this.lstatEntry(path, into, false);
    if (entry === undefined || entry.kind !== 'file' || (await this.passesTypeFilter(entry))) return entry;
    return undefined;
  }

  /**
   * The entry for one path, without the type filter. Synchronous on purpose: an lstat of a
   * cached inode is a microsecond or two, a trip through libuv's thread pool and a promise
   * cost ten times that, and a scan is nearly all lstats (100,000 of them on restart).
   * `parentAccepted`: the caller descended from an accepted directory, so only the last
   * component needs the path filter. `plainUtf8`: the caller knows the path is valid UTF-8
   * (read from a listing without U+FFFD, under such a directory), so it skips toFsPath.
   */
  private lstatEntry(path: string, into: ScanResult, parentAccepted: boolean, plainUtf8 = false): LocalEntry | undefined {
    const abs = plainUtf8 ? this.abs(path) : toFsPath(this.abs(path));
    let st;
    try {
      st = lstatSync(abs, { bigint: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      into.unreadable.push(path);
      into.problems.push({ path, code: 'UNREADABLE', message: `cannot read: ${code ?? String(err)}` });
      return undefined;
    }
    const kind: EntryKind | undefined = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : undefined;
    if (kind === undefined) {
      into.problems.push({ path, code: 'SPECIAL_FILE', message: 'skipped: FIFOs, sockets and devices are not mirrored' });
      return undefined;
    }
    const excluded = parentAccepted ? path !== '' && !this.options.filter.accepts(path, kind === 'dir') : this.excluded(path, kind === 'dir');
    if (excluded) return undefined;
    let linkTarget = '';
    if (kind === 'symlink') {
      try {
        linkTarget = decodeName(readlinkSync(abs, { encoding: 'buffer' }));
      } catch {
        // Replaced between lstat and readlink: the next event looks again.
      }
    }
    return {
      path,
      kind,
      size: kind === 'file' ? Number(st.size) : 0,
      mtimeMs: kind === 'dir' ? 0 : Number(st.mtimeNs) / 1e6,
      ino: st.ino.toString(),
      ...(kind === 'symlink' ? { linkTarget } : {}),
    };
  }

  private async passesTypeFilter(e: LocalEntry): Promise<boolean> {
    const types = this.options.types;
    if (!typeFilterActive(types)) return true;
    const key = `${e.size}:${e.mtimeMs}:${e.ino}`;
    const cached = this.typeCache.get(e.path);
    if (cached?.key === key) return cached.ok;
    const sniffed = (types.fileTypes?.length ?? 0) > 0 ? await sniffTopType(this.abs(e.path)).catch(() => undefined) : undefined;
    const ok = typeVerdict(types, e.path, sniffed, extensionTopType(e.path));
    this.typeCache.set(e.path, { key, ok });
    return ok;
  }

  /**
   * Scans `dir` and everything under it into `into`, one directory at a time with
   * synchronous calls, yielding to the event loop every YIELD_EVERY entries so a scan of a
   * large tree does not hold up uploads and watch events for long.
   */
  async scanTree(dir: string, into: ScanResult): Promise<void> {
    const batches = this.batches(dir, into, YIELD_EVERY);
    while (!(await batches.next()).done); // the entries are in `into`
  }

  /**
   * The scan of scanTree, handed out as it goes: a batch after every `batchSize` or so
   * entries read (whole directories; excluded entries count too), parents first (`dir`
   * itself first, a directory before anything under it), each entry also added to `into`.
   * Between batches the event loop runs. A directory that vanishes after its parent listed it
   * is removed from `into.entries` again, though it was in an earlier batch.
   */
  async *batches(dir: string, into: ScanResult, batchSize: number): AsyncGenerator<LocalEntry[]> {
    const top = await this.statPath(dir, into);
    if (!top) return;
    into.entries.set(dir, top);
    let batch: LocalEntry[] = [top];
    if (top.kind !== 'dir') {
      yield batch;
      return;
    }
    const typeFiltered = typeFilterActive(this.options.types);
    const queue: string[] = [dir];
    let sinceYield = 0;
    while (queue.length > 0) {
      const d = queue.pop()!;
      let names: string[];
      /** Every child path is valid UTF-8: the common case, no per-entry toFsPath. */
      let plainUtf8: boolean;
      try {
        const abs = toFsPath(this.abs(d));
        const read = readdirSync(abs);
        names = decodeNames(read, () => readdirSync(abs, { encoding: 'buffer' }));
        plainUtf8 = names === read && typeof abs === 'string';
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          // Vanished during the scan: forget what we read of it (the next event rescans).
          into.entries.delete(d);
          continue;
        }
        into.unreadable.push(d);
        into.problems.push({ path: d, code: 'UNREADABLE', message: `cannot list directory: ${code ?? String(err)}` });
        continue;
      }
      const subdirs: string[] = [];
      for (const name of names) {
        const child = joinPath(d, name);
        const e = this.lstatEntry(child, into, true, plainUtf8);
        if (!e) continue;
        if (typeFiltered && e.kind === 'file' && !(await this.passesTypeFilter(e))) continue;
        into.entries.set(child, e);
        batch.push(e);
        if (e.kind === 'dir') subdirs.push(child);
      }
      // Depth first, in the order read: the order a first push creates them in (executor.ts).
      for (let i = subdirs.length - 1; i >= 0; i--) queue.push(subdirs[i]!);
      sinceYield += names.length;
      if (sinceYield >= batchSize) {
        sinceYield = 0;
        if (batch.length > 0) yield batch;
        batch = [];
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (batch.length > 0) yield batch;
  }

  /**
   * What the safety gates need to know of the source root now (core/safety.ts): whether it
   * is a directory, whether anything in it passes the filters (one listing, stopped at the
   * first entry that does), and its `dev:ino`. A root that cannot be listed counts as not
   * empty: the gates then leave the decision to the scan, which never deletes beneath a
   * directory it could not read.
   */
  async probeRoot(): Promise<SourceRootProbe> {
    const gone: SourceRootProbe = { present: false, hasEntries: false, identity: undefined };
    let st;
    try {
      st = await lstat(this.options.root, { bigint: true });
    } catch {
      return gone;
    }
    if (!st.isDirectory()) return gone;
    const identity = `${st.dev}:${st.ino}`;
    let names: string[];
    try {
      const root = toFsPath(this.options.root);
      names = decodeNames(await readdir(root), () => readdirSync(root, { encoding: 'buffer' }));
    } catch {
      return { present: true, hasEntries: true, identity };
    }
    const probe = emptyScan();
    for (const name of names) {
      const e = this.lstatEntry(name, probe, true);
      if (e && (e.kind !== 'file' || (await this.passesTypeFilter(e)))) return { present: true, hasEntries: true, identity };
    }
    return { present: true, hasEntries: false, identity };
  }
}
