/**
 * The SQLite store (better-sqlite3 12.x; 13 crashes on Node 20). WAL with synchronous=NORMAL:
 * a crash of the process loses nothing committed; a power cut may lose the last moments,
 * which the startup reconcile then re-sends (never a wrong state: at worst a re-upload).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EntryKind, KnownEntry } from '../core/entry.ts';
import type { JournalledRename, JournalledTemp, Store, TempKind } from './store.ts';
import { migrate } from './migrations.ts';

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

function toEntry(r: Row): KnownEntry {
  return {
    path: r.path,
    kind: r.kind,
    size: r.size,
    mtimeMs: r.mtime_ms,
    ino: r.ino,
    recordedAtMs: r.recorded_at,
    ...(r.link_target !== null ? { linkTarget: r.link_target } : {}),
    ...(r.hash !== null ? { hash: r.hash } : {}),
  };
}

/** Upper bound for paths under `dir`: '/' is 0x2F, so every 'dir/…' sorts below 'dir0'. */
function rangeOf(dir: string): [string, string] {
  return [`${dir}/`, `${dir}0`];
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
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
      get: db.prepare<[number, string], Row>('SELECT * FROM entries WHERE target = ? AND path = ?'),
      all: db.prepare<[number], Row>('SELECT * FROM entries WHERE target = ?'),
      under: db.prepare<[number, string, string, string], Row>('SELECT * FROM entries WHERE target = ? AND (path = ? OR (path >= ? AND path < ?))'),
      childrenOfRoot: db.prepare<[number], Row>("SELECT * FROM entries WHERE target = ? AND path <> '' AND instr(path, '/') = 0"),
      children: db.prepare<[number, string, string, number], Row>('SELECT * FROM entries WHERE target = ? AND path >= ? AND path < ? AND instr(substr(path, ?), \'/\') = 0'),
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
      move: db.prepare<[string, number, number, string, string, string]>(
        'UPDATE entries SET path = ? || substr(path, ?) WHERE target = ? AND (path = ? OR (path >= ? AND path < ?))',
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

  distrustTarget(target: number): void {
    this.stmts.targetUnseen.run(target);
  }

  get(target: number, path: string): KnownEntry | undefined {
    const row = this.stmts.get.get(target, path);
    return row ? toEntry(row) : undefined;
  }

  subtree(target: number, dir: string): KnownEntry[] {
    const rows = dir === '' ? this.stmts.all.all(target) : this.stmts.under.all(target, dir, ...rangeOf(dir));
    return rows.map(toEntry);
  }

  children(target: number, dir: string): KnownEntry[] {
    if (dir === '') return this.stmts.childrenOfRoot.all(target).map(toEntry);
    const [low, high] = rangeOf(dir);
    return this.stmts.children.all(target, low, high, low.length + 1).map(toEntry);
  }

  count(target: number): number {
    return this.stmts.count.get(target)?.n ?? 0;
  }

  upsert(target: number, e: KnownEntry): void {
    // Positional parameters: binding a named-parameter object costs a third of the insert.
    this.stmts.upsert.run(target, e.path, e.kind, e.size, e.mtimeMs, e.ino, e.linkTarget ?? null, e.hash ?? null, e.recordedAtMs);
  }

  delete(target: number, path: string): void {
    this.stmts.del.run(target, path);
  }

  deleteSubtree(target: number, dir: string): void {
    if (dir === '') this.stmts.delAll.run(target);
    else this.stmts.delUnder.run(target, dir, ...rangeOf(dir));
  }

  moveSubtree(target: number, from: string, to: string): void {
    this.transaction(() => {
      this.deleteSubtree(target, to);
      // substr is 1-based: keep everything after the old prefix.
      this.stmts.move.run(to, from.length + 1, target, from, ...rangeOf(from));
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
    this.stmts.tempAdd.run(target, path, finalPath, kind);
  }

  removeTemp(target: number, path: string): void {
    this.stmts.tempDel.run(target, path);
  }

  temps(target: number): JournalledTemp[] {
    return this.stmts.temps.all(target).map((r) => ({ path: r.path, finalPath: r.final ?? '', kind: r.kind }));
  }

  addRename(target: number, from: string, to: string): void {
    this.stmts.renameAdd.run(target, to, from);
  }

  removeRename(target: number, to: string): void {
    this.stmts.renameDel.run(target, to);
  }

  renames(target: number): JournalledRename[] {
    return this.stmts.renames.all(target).map((r) => ({ from: r.from_path, to: r.to_path }));
  }

  close(): void {
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }
}
