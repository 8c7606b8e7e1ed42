/**
 * Reads the source tree: lstat (never following links) with bigint times, filters applied on
 * the way down (an excluded directory is not descended). Unreadable directories are reported
 * so the planner never deletes beneath them; special files are skipped with a note.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryKind, LocalEntry } from '../core/entry.ts';
import { typeFilterActive, typeVerdict, type PathFilter, type TypeFilterOptions } from '../core/filter.ts';
import type { Problem } from '../core/ops.ts';
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

const PARALLEL = 16;

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
    let st;
    try {
      st = await lstat(this.abs(path), { bigint: true });
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
    if (this.excluded(path, kind === 'dir')) return undefined;
    const entry: LocalEntry = {
      path,
      kind,
      size: kind === 'file' ? Number(st.size) : 0,
      mtimeMs: kind === 'dir' ? 0 : Number(st.mtimeNs) / 1e6,
      ino: st.ino.toString(),
      ...(kind === 'symlink' ? { linkTarget: await readlink(this.abs(path)).catch(() => '') } : {}),
    };
    if (kind === 'file' && !(await this.passesTypeFilter(entry))) return undefined;
    return entry;
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

  /** Scans `dir` and everything under it into `into`. */
  async scanTree(dir: string, into: ScanResult): Promise<void> {
    const top = await this.statPath(dir, into);
    if (!top) return;
    into.entries.set(dir, top);
    if (top.kind !== 'dir') return;
    const queue: string[] = [dir];
    const worker = async () => {
      while (queue.length > 0) {
        const d = queue.pop()!;
        let names: string[];
        try {
          names = await readdir(this.abs(d));
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
        for (const name of names) {
          const child = joinPath(d, name);
          const e = await this.statPath(child, into);
          if (!e) continue;
          into.entries.set(child, e);
          if (e.kind === 'dir') queue.push(child);
        }
      }
    };
    // Workers pull from one queue; a worker that finds it empty exits while others may still
    // add to it, so loop until every worker is done and the queue is drained.
    while (queue.length > 0) await Promise.all(Array.from({ length: PARALLEL }, worker));
  }

  /** Whether the source root exists and is a directory. */
  async rootPresent(): Promise<boolean> {
    try {
      return (await lstat(this.options.root)).isDirectory();
    } catch {
      return false;
    }
  }
}
