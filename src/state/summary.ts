/**
 * What a state file says about each target, read without writing it (a read-only
 * connection, no waiting for a lock): for `status` while the daemon is not running. The
 * schema is the one of migrations.ts (version 1); keys are `source\ntarget` (see
 * engine/target-sync.ts).
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { lockHolderPid } from './state-file-error.ts';

export interface StoredTarget {
  readonly source: string;
  readonly target: string;
  readonly files: number;
  readonly dirs: number;
  readonly symlinks: number;
  readonly bytes: number;
  readonly lastRecordedAt?: string;
  /** Temp files journalled but not cleaned: an upload was cut short; removed at next start. */
  readonly tempFiles: number;
}

export interface StoreReport {
  readonly path: string;
  readonly exists: boolean;
  readonly targets: readonly StoredTarget[];
  readonly error?: string;
}

/** Reads the state store without writing it (the daemon is not running). */
export function readStateSummary(path: string): StoreReport {
  if (!existsSync(path)) return { path, exists: false, targets: [] };
  let db: Database.Database | undefined;
  try {
    // No waiting: a running instance holds the file locked (see SqliteStore) for as long as it runs.
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 0 });
    const rows = db
      .prepare<[], { key: string; files: number; dirs: number; symlinks: number; bytes: number; last: number | null; temps: number }>(
        `SELECT t.key AS key,
           (SELECT count(*) FROM entries e WHERE e.target = t.id AND e.kind = 'file') AS files,
           (SELECT count(*) FROM entries e WHERE e.target = t.id AND e.kind = 'dir') AS dirs,
           (SELECT count(*) FROM entries e WHERE e.target = t.id AND e.kind = 'symlink') AS symlinks,
           (SELECT coalesce(sum(size), 0) FROM entries e WHERE e.target = t.id AND e.kind = 'file') AS bytes,
           (SELECT max(recorded_at) FROM entries e WHERE e.target = t.id) AS last,
           (SELECT count(*) FROM temps x WHERE x.target = t.id) AS temps
         FROM targets t ORDER BY t.id`,
      )
      .all();
    return {
      path,
      exists: true,
      targets: rows.map((r) => {
        const nl = r.key.indexOf('\n');
        return {
          source: nl < 0 ? '' : r.key.slice(0, nl),
          target: nl < 0 ? r.key : r.key.slice(nl + 1),
          files: r.files,
          dirs: r.dirs,
          symlinks: r.symlinks,
          bytes: r.bytes,
          ...(r.last !== null ? { lastRecordedAt: new Date(r.last).toISOString() } : {}),
          tempFiles: r.temps,
        };
      }),
    };
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      const pid = lockHolderPid(path);
      return { path, exists: true, targets: [], error: `the state store is in use by a running sync-inotify${pid !== undefined ? ` (pid ${pid})` : ''}, which does not answer on this instance's control socket (a run without a pid file?)` };
    }
    return { path, exists: true, targets: [], error: `cannot read the state store: ${(err as Error).message}` };
  } finally {
    db?.close();
  }
}
