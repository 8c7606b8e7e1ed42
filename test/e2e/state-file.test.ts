/**
 * The state file through the real CLI: one process per state file (a second is refused with
 * the file and the holder's pid, exit 2), the lock dies with its process, and `status` of a
 * stopped instance still reads the store.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Daemon, runCli, tempDir, waitForSame } from './harness.ts';

const t = tempDir('state-file');
after(() => t.cleanup());
let n = 0;

function setup() {
  const dir = join(t.path, `case${++n}`);
  const src = join(dir, 'src');
  const dst = join(dir, 'dst');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'a');
  // Written an hour ago: a file written within the last clock ticks is "racy" and compared by
  // content, which an adopted record does not have, so adoption would not be what is tested.
  const hourAgo = Date.now() / 1000 - 3600;
  utimesSync(join(src, 'a.txt'), hourAgo, hourAgo);
  return { src, dst, db: join(dir, 'state.db'), other: join(dir, 'other-dst') };
}

describe('one process per state file', { timeout: 120_000 }, () => {
  it('a second run or once on a running instance\'s state file is refused (exit 2, the file, the pid); the first keeps working', async () => {
    const s = setup();
    const d = await Daemon.start([s.src, s.dst, '--state', s.db]);
    try {
      await waitForSame(s.src, s.dst, 20_000, d);
      for (const command of ['once', 'run']) {
        const r = await runCli([command, s.src, s.other, '--state', s.db]);
        assert.equal(r.code, 2, `${command}: ${r.stdout}${r.stderr}`);
        assert.ok(r.stderr.includes(`state file ${s.db} is in use`), r.stderr);
        assert.ok(r.stderr.includes(`pid ${d.child.pid}`), r.stderr);
        assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
      }
      writeFileSync(join(s.src, 'b.txt'), 'b');
      await waitForSame(s.src, s.dst, 20_000, d);
      // An ad-hoc run has no control socket: status names the holder instead of hanging.
      const busy = await runCli(['status', s.src, s.dst, '--state', s.db]);
      assert.match(busy.stdout, new RegExp(`in use by a running sync-inotify \\(pid ${d.child.pid}\\)`), busy.stdout + busy.stderr);
    } finally {
      await d.stop();
    }
    const status = await runCli(['status', s.src, s.dst, '--state', s.db]);
    assert.equal(status.code, 3, status.stdout + status.stderr);
    assert.match(status.stdout, /2 files/, status.stdout);
    const again = await runCli(['once', s.src, s.dst, '--state', s.db]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  it('the lock dies with its process: after kill -9 the next once works, and status reads the store', async () => {
    const s = setup();
    const d = await Daemon.start([s.src, s.dst, '--state', s.db]);
    await waitForSame(s.src, s.dst, 20_000, d);
    await d.stop('SIGKILL');
    const status = await runCli(['status', s.src, s.dst, '--state', s.db]);
    assert.equal(status.code, 3, status.stdout + status.stderr);
    assert.match(status.stdout, /1 file/, status.stdout);
    writeFileSync(join(s.src, 'b.txt'), 'b');
    const r = await runCli(['once', s.src, s.dst, '--state', s.db]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await waitForSame(s.src, s.dst, 5_000);
  });
});

describe('a damaged state file', { timeout: 60_000 }, () => {
  it('is a clear error: which file, what to do, no stack trace, exit 2; moved aside, the next run adopts the target', async () => {
    const s = setup();
    const first = await runCli(['once', s.src, s.dst, '--state', s.db]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    for (const garbage of [Buffer.from('this is not a database\n'.repeat(200)), Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(8192, 0xa5)])]) {
      writeFileSync(s.db, garbage);
      for (const command of ['once', 'run']) {
        const r = await runCli([command, s.src, s.dst, '--state', s.db]);
        assert.equal(r.code, 2, `${command}: ${r.stdout}${r.stderr}`);
        assert.ok(r.stderr.includes(`state file ${s.db} is damaged`), r.stderr);
        assert.match(r.stderr, /Move it aside.*next start adopts/s);
        assert.match(r.stderr, /\[E_STATE_CORRUPT\]/);
        assert.doesNotMatch(r.stdout + r.stderr, /^\s+at /m, 'no stack trace');
      }
    }
    renameSync(s.db, `${s.db}.broken`);
    const again = await runCli(['once', s.src, s.dst, '--state', s.db]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout + again.stderr, /adopted 1 entries/);
    assert.doesNotMatch(again.stdout + again.stderr, /put "a.txt"/);
  });
});
