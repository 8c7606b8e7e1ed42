import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteStore } from './sqlite-store.ts';
import { findLockHolder, lockHolderPid, StateFileError, stateFileErrorFor } from './state-file-error.ts';

describe('findLockHolder (/proc/locks)', () => {
  const locks = [
    '1: POSIX  ADVISORY  WRITE 4242 08:01:5678 1073741824 1073742335',
    '1: -> POSIX  ADVISORY  WRITE 777 08:01:5678 1073741824 1073742335',
    '2: FLOCK  ADVISORY  WRITE 99 08:01:5678 0 EOF',
    '3: POSIX  ADVISORY  READ 31 00:2c:5678 128 128',
    '4: OFDLCK ADVISORY  READ -1 00:06:9 0 EOF',
  ].join('\n');
  const table: [string, number, number, number, number | undefined][] = [
    ['the POSIX holder of that inode', 8, 1, 5678, 4242],
    ['same inode on another device', 0, 0x2c, 5678, 31],
    ['no lock on the inode', 8, 1, 1234, undefined],
    ['a blocked waiter or a flock is not a holder', 8, 2, 5678, undefined],
  ];
  for (const [name, major, minor, ino, want] of table) it(name, () => assert.equal(findLockHolder(locks, major, minor, ino), want));
});

describe('one store per state file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'si-lock-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a second open is refused with E_STATE_LOCKED, the file and this pid; after close it opens', () => {
    const file = join(dir, 'state.db');
    const first = new SqliteStore(file);
    try {
      assert.equal(lockHolderPid(file), process.pid);
      assert.throws(
        () => new SqliteStore(file),
        (err: unknown) => err instanceof StateFileError && err.code === 'E_STATE_LOCKED' && err.message.includes(file) && err.message.includes(`pid ${process.pid}`),
      );
    } finally {
      first.close();
    }
    new SqliteStore(file).close();
  });
});

describe('stateFileErrorFor', () => {
  const table: [string, string, string | undefined][] = [
    ['SQLITE_NOTADB', 'file is not a database', 'E_STATE_CORRUPT'],
    ['SQLITE_CORRUPT', 'database disk image is malformed', 'E_STATE_CORRUPT'],
    ['SQLITE_CANTOPEN', 'unable to open database file', 'E_STATE_UNREADABLE'],
    ['SQLITE_BUSY', 'database is locked', 'E_STATE_LOCKED'],
    ['SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed', undefined],
  ];
  for (const [code, message, want] of table) {
    it(`${code} → ${want ?? 'rethrown as it is'}`, () => {
      const got = stateFileErrorFor('/x/state.db', Object.assign(new Error(message), { code }));
      assert.equal(got?.code, want);
      if (got) assert.ok(got.message.includes('/x/state.db'), got.message);
    });
  }
});
