/**
 * Schema migrations, applied in order and recorded in `PRAGMA user_version`. Append only:
 * never edit a migration that has shipped.
 */
import type Database from 'better-sqlite3';

const MIGRATIONS: string[] = [
  `CREATE TABLE targets (
     id INTEGER PRIMARY KEY,
     key TEXT NOT NULL UNIQUE,
     seen INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE entries (
     target INTEGER NOT NULL,
     path TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('file', 'dir', 'symlink')),
     size INTEGER NOT NULL,
     mtime_ms REAL NOT NULL,
     ino TEXT NOT NULL,
     link_target TEXT,
     hash TEXT,
     recorded_at REAL NOT NULL,
     PRIMARY KEY (target, path)
   ) WITHOUT ROWID;
   CREATE TABLE temps (
     target INTEGER NOT NULL,
     path TEXT NOT NULL,
     PRIMARY KEY (target, path)
   ) WITHOUT ROWID;`,
  // The final path of each journalled upload: after a crash between the remote rename and
  // the commit, the file may be on the target without a record (see TargetSync.start).
  `ALTER TABLE temps ADD COLUMN final TEXT;`,
  // A staged directory (a first push's directory written under a temp name, then renamed)
  // is journalled too; after a crash it is published with the files recorded whole.
  `ALTER TABLE temps ADD COLUMN kind TEXT NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'dir'));`,
  // The identity (dev:ino) of the source root at the last full sync that passed the safety
  // gates: another folder there later (an unmounted file system's mount point, a replaced
  // folder) halts deletes instead of mirroring its emptiness (core/safety.ts).
  `ALTER TABLE targets ADD COLUMN source_id TEXT;`,
  // Renames sent to a target whose result is not recorded yet: after a crash (or a lost
  // reply), the next start looks at both names and records the move if it happened.
  `CREATE TABLE renames (
     target INTEGER NOT NULL,
     to_path TEXT NOT NULL,
     from_path TEXT NOT NULL,
     PRIMARY KEY (target, to_path)
   ) WITHOUT ROWID;`,
];

/** Brings the schema up to `version` (all migrations unless a test asks for an older one). */
export function migrate(db: Database.Database, version = MIGRATIONS.length): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`state file was written by a newer sync-inotify (schema ${current}, this version knows ${MIGRATIONS.length}): upgrade sync-inotify or use another state file`);
  }
  for (let v = current; v < version; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
