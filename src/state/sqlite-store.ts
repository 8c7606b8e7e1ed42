/**
 * The SQLite store (better-sqlite3 12.x; 13 crashes on Node 20). WAL with synchronous=NORMAL:
 * a crash of the process loses nothing committed; a power cut may lose the last moments,
 * which the startup reconcile then re-sends (never a wrong state: at worst a re-upload).
 *
 * Paths are stored escaped (`toDb`): better-sqlite3 writes JS strings as UTF-8 and turns a
 * lone surrogate (a byte of a name that is not valid UTF-8, core/names.ts) into U+FFFD, which
 * would lose the name. Such a byte is stored as NUL and two hex digits instead: NUL is never
 * part of a path, the escape is a prefix code (so `dir/…` ranges still select exactly the
 * subtree), and plain paths are stored unchanged.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EntryKind, KnownEntry } from '../core/entry.ts';
import { hasEscapedBytes } from '../core/names.ts';
import type { JournalledRename, JournalledTemp, Store, TempKind } from './store.ts';
import { migrate } from './migrations.ts';
import { stateFileErrorFor } from './state-file-error.ts';

interface Row {
  path: string;
  kind: EntryKind;
  size: number;
  mtime_ms: number;
  ino: string;
  link_target: string | null;
  hash: string | null;
  recorded_at: number;
}

/** A path (or link text) as stored: each escaped byte U+DC80-U+DCFF as NUL + 2 hex digits. */
export function toDb(path: string): string {
  if (!hasEscapedBytes(path)) return path;
  return path.replace(/[\udc80-\udcff]/gu, (c) => `\0${(c.charCodeAt(0) - 0xdc00).toString(16)}`);
}

/** The inverse of toDb. */
export function fromDb(stored: string): string {
  if (!stored.includes('\0')) return stored;
  return stored.replace(/\0([0-9a-f]{2})/g, (_m, hex: string) => String.fromCharCode(0xdc00 + parseInt(hex, 16)));
}

function toEntry(r: Row): KnownEntry {
  return {
    path: fromDb(r.path),
    kind: r.kind,
    size: r.size,
    mtimeMs: r.mtime_ms,
    ino: r.ino,
    recordedAtMs: r.recorded_at,
    ...(r.link_target !== null ? { linkTarget: fromDb(r.link_target) } : {}),
    ...(r.hash !== null ? { hash: r.hash } : {}),
  };
}

/** The columns of a Row, in this order, for statements that return arrays (`raw`). */
const COLUMNS = 'path, kind, size, mtime_ms, ino, link_target, hash, recorded_at';
type RawRow = [string, EntryKind, number, number, string, string | null, string | null, number];

/**
 * toEntry for a row read as an array: a bulk read (a restart loads 100,000 records at once)
 * spends half its time making each row an object with named columns, then the entry
 * another one; this makes only the entry. Keys as toEntry's (no linkTarget/hash when none).
 */
function rawToEntry(r: RawRow): KnownEntry {
  const e: { -readonly [K in keyof KnownEntry]: KnownEntry[K] } = { path: fromDb(r[0]), kind: r[1], size: r[2], mtimeMs: r[3], ino: r[4], recordedAtMs: r[7] };
  if (r[5] !== null) e.linkTarget = fromDb(r[5]);
  if (r[6] !== null) e.hash = r[6];
  return e;
}

/**
 * Bounds of the paths under `dir` (stored form): '/' is 0x2F, so every 'dir/…' sorts below
 * 'dir0'.
 */
function rangeOf(dir: string): [string, string] {
  return [`${dir}/`, `${dir}0`];
}

function openDatabase(file: string): Database.Database {
  try {
    return new Database(file, { timeout: 0 });
  } catch (err) {
    throw stateFileErrorFor(file, err) ?? err;
  }
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts;

  /**
   * A store over an in-memory copy of `file` (an empty one when there is none yet): a dry run
   * plans from the records and whatever it writes stays in memory, so the file is not changed.
   * A file with a write-ahead log (a crash, or an instance running now) is read through a
   * read-only connection, as `status` reads it, which refuses a file a running instance holds.
   */
  static copyOf(file: string): SqliteStore {
    if (!existsSync(file)) return new SqliteStore(':memory:');
    let image: Buffer;
    try {
      // With no write-ahead log left over (a clean stop truncates it), the file's bytes are
      // the database: read them, so not even SQLite's -shm file appears next to it.
      if (!(statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0)) return new SqliteStore(':memory:', readFileSync(file));
      const src = new Database(file, { readonly: true, fileMustExist: true, timeout: 0 });
      try {
        image = src.serialize();
      } finally {
        src.close();
      }
    } catch (err) {
      throw stateFileErrorFor(file, err) ?? err;
    }
    return new SqliteStore(':memory:', image);
  }

  constructor(file: string, image?: Buffer) {
    if (file !== ':memory:') {
      try {
        mkdirSync(dirname(file), { recursive: true });
      } catch (err) {
        throw stateFileErrorFor(file, { code: 'SQLITE_CANTOPEN', message: `cannot create its folder: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }) ?? err;
      }
    }
    // No waiting for a lock: the only other holder would be another process on this file.
    this.db = image !== undefined ? new Database(image) : openDatabase(file);
    try {
      // One process per state file: two would interleave their records and each re-send or
      // delete by the other's view. EXCLUSIVE locking mode keeps the lock taken by the first
      // write for as long as this connection is open (WAL then needs no shared memory), and
      // the kernel drops it when the process dies, so a crash leaves nothing to clean up.
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.exec('BEGIN EXCLUSIVE; COMMIT');
      this.db.pragma('synchronous = NORMAL');
      // A damaged file can pass the header check and fail on its first real read.
      migrate(this.db);
    } catch (err) {
      this.db.close();
      throw stateFileErrorFor(file, err) ?? err;
    }
    const db = this.db;
    this.stmts = {
      begin: db.prepare('BEGIN'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      targetGet: db.prepare<[string], { id: number }>('SELECT id FROM targets WHERE key = ?'),
      targetAdd: db.prepare<[string]>('INSERT INTO targets (key) VALUES (?)'),
      targetSeen: db.prepare<[number]>('UPDATE targets SET seen = 1 WHERE id = ?'),
      targetUnseen: db.prepare<[number]>('UPDATE targets SET seen = 0 WHERE id = ?'),
      targetIsSeen: db.prepare<[number], { seen: number }>('SELECT seen FROM targets WHERE id = ?'),
      sourceIdGet: db.prepare<[number], { source_id: string | null }>('SELECT source_id FROM targets WHERE id = ?'),
      sourceIdSet: db.prepare<[string, number]>('UPDATE targets SET source_id = ? WHERE id = ?'),
      get: db.prepare<[number, string], Row>('SELECT * FROM entries WHERE target = ? AND path = ?'),
      all: db.prepare<[number], RawRow>(`SELECT ${COLUMNS} FROM entries WHERE target = ?`).raw(true),
      under: db.prepare<[number, string, string, string], RawRow>(`SELECT ${COLUMNS} FROM entries WHERE target = ? AND (path = ? OR (path >= ? AND path < ?))`).raw(true),
      childrenOfRoot: db.prepare<[number], Row>("SELECT * FROM entries WHERE target = ? AND path <> '' AND instr(path, '/') = 0"),
      children: db.prepare<[number, string, string, number], Row>('SELECT * FROM entries WHERE target = ? AND path >= ? AND path < ? AND instr(substr(CAST(path AS BLOB), ?), CAST(\'/\' AS BLOB)) = 0'),
      count: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM entries WHERE target = ?'),
      upsert: db.prepare<[number, string, EntryKind, number, number, string, string | null, string | null, number]>(
        `INSERT INTO entries (target, path, kind, size, mtime_ms, ino, link_target, hash, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (target, path) DO UPDATE SET kind = excluded.kind, size = excluded.size,
           mtime_ms = excluded.mtime_ms, ino = excluded.ino, link_target = excluded.link_target,
           hash = excluded.hash, recorded_at = excluded.recorded_at`,
      ),
      del: db.prepare<[number, string]>('DELETE FROM entries WHERE target = ? AND path = ?'),
      delUnder: db.prepare<[number, string, string, string]>('DELETE FROM entries WHERE target = ? AND (path = ? OR (path >= ? AND path < ?))'),
      delAll: db.prepare<[number]>('DELETE FROM entries WHERE target = ?'),
      // substr on the bytes: SQLite's text substr counts characters (not JS's UTF-16 units)
      // and stops at a NUL, which stored escapes contain.
      move: db.prepare<[string, number, number, string, string, string]>(
        'UPDATE entries SET path = ? || CAST(substr(CAST(path AS BLOB), ?) AS TEXT) WHERE target = ? AND (path = ? OR (path >= ? AND path < ?))',
      ),
      tempAdd: db.prepare<[number, string, string, TempKind]>('INSERT OR IGNORE INTO temps (target, path, final, kind) VALUES (?, ?, ?, ?)'),
      tempDel: db.prepare<[number, string]>('DELETE FROM temps WHERE target = ? AND path = ?'),
      temps: db.prepare<[number], { path: string; final: string | null; kind: TempKind }>('SELECT path, final, kind FROM temps WHERE target = ?'),
      renameAdd: db.prepare<[number, string, string]>('INSERT OR REPLACE INTO renames (target, to_path, from_path) VALUES (?, ?, ?)'),
      renameDel: db.prepare<[number, string]>('DELETE FROM renames WHERE target = ? AND to_path = ?'),
      renames: db.prepare<[number], { from_path: string; to_path: string }>('SELECT from_path, to_path FROM renames WHERE target = ?'),
    };
  }

  targetId(key: string): number {
    const row = this.stmts.targetGet.get(key);
    if (row) return row.id;
    return Number(this.stmts.targetAdd.run(key).lastInsertRowid);
  }

  isNewTarget(target: number): boolean {
    return (this.stmts.targetIsSeen.get(target)?.seen ?? 0) === 0;
  }

  markTargetSeen(target: number): void {
    this.stmts.targetSeen.run(target);
  }

  sourceIdentity(target: number): string | undefined {
    return this.stmts.sourceIdGet.get(target)?.source_id ?? undefined;
  }

  setSourceIdentity(target: number, identity: string): void {
    this.stmts.sourceIdSet.run(identity, target);

  }

  distrustTarget(target: number): void {
    this.stmts.targetUnseen.run(target);
  }

  get(target: number, path: string): KnownEntry | undefined {
    const row = this.stmts.get.get(target, toDb(path));
    return row ? toEntry(row) : undefined;
  }

  subtree(target: number, dir: string): KnownEntry[] {
    const d = toDb(dir);
    const rows = dir === '' ? this.stmts.all.all(target) : this.stmts.under.all(target, d, ...rangeOf(d));
    return rows.map(rawToEntry);
  }

  children(target: number, dir: string): KnownEntry[] {
    if (dir === '') return this.stmts.childrenOfRoot.all(target).map(toEntry);
    // Byte offsets (as moveSubtree): a JS length counts UTF-16 units, SQLite characters.
    const [low, high] = rangeOf(toDb(dir));
    return this.stmts.children.all(target, low, high, Buffer.byteLength(low) + 1).map(toEntry);
  }

  count(target: number): number {
    return this.stmts.count.get(target)?.n ?? 0;
  }

  upsert(target: number, e: KnownEntry): void {
    // Positional parameters: binding a named-parameter object costs a third of the insert.
    this.stmts.upsert.run(target, toDb(e.path), e.kind, e.size, e.mtimeMs, e.ino, e.linkTarget === undefined ? null : toDb(e.linkTarget), e.hash ?? null, e.recordedAtMs);
  }

  delete(target: number, path: string): void {
    this.stmts.del.run(target, toDb(path));
  }

  deleteSubtree(target: number, dir: string): void {
    if (dir === '') this.stmts.delAll.run(target);
    else {
      const d = toDb(dir);
      this.stmts.delUnder.run(target, d, ...rangeOf(d));
    }
  }

  moveSubtree(target: number, from: string, to: string): void {
    this.transaction(() => {
      this.deleteSubtree(target, to);
      // substr is 1-based: keep every byte after the old prefix.
      const f = toDb(from);
      this.stmts.move.run(toDb(to), Buffer.byteLength(f) + 1, target, f, ...rangeOf(f));
    });
  }

  /** Runs `fn` in one transaction; nested calls join the outer one. */
  transaction<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.stmts.begin.run();
    try {
      const result = fn();
      this.stmts.commit.run();
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.stmts.rollback.run();
      throw err;
    }
  }

  addTemp(target: number, path: string, finalPath: string, kind: TempKind = 'file'): void {
    this.stmts.tempAdd.run(target, toDb(path), toDb(finalPath), kind);
  }

  removeTemp(target: number, path: string): void {
    this.stmts.tempDel.run(target, toDb(path));
  }

  temps(target: number): JournalledTemp[] {
    return this.stmts.temps.all(target).map((r) => ({ path: fromDb(r.path), finalPath: fromDb(r.final ?? ''), kind: r.kind }));
  }

  addRename(target: number, from: string, to: string): void {
    this.stmts.renameAdd.run(target, toDb(to), toDb(from));
  }

  removeRename(target: number, to: string): void {
    this.stmts.renameDel.run(target, toDb(to));
  }

  renames(target: number): JournalledRename[] {
    return this.stmts.renames.all(target).map((r) => ({ from: fromDb(r.from_path), to: fromDb(r.to_path) }));
  }

  close(): void {
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }
}
