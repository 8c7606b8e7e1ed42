/**
 * End to end through the CLI process, real file system, real watcher: the cases of issue 2.
 * Each test starts its own daemon on fresh folders and ends by comparing trees byte for byte.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, runCli, sleep, tempDir, treeDifference, waitForSame } from './harness.ts';
import { describeMirrorCases, describeOnceAndCheck } from './mirror-cases.ts';


interface Setup {
  root: string;
  src: string;
  dst: string;
  db: string;
  cleanup(): void;
}

function setup(name: string): Setup {
  const t = tempDir(name);
  const src = join(t.path, 'src');
  const dst = join(t.path, 'dst');
  mkdirSync(src);
  return { root: t.path, src, dst, db: join(t.path, 'state.db'), cleanup: t.cleanup };
}

describeMirrorCases({
  label: 'local folder',
  symlinks: true,
  byteNames: true,
  async open(name) {
    const s = setup(name);
    const daemon = await Daemon.start([s.src, s.dst, '--state', s.db]);
    return { env: s, daemon, close: async () => s.cleanup() };
  },
});

describeOnceAndCheck(
  'local folder',
  async () => {
    const s = setup('check');
    after(() => s.cleanup());
    return { src: s.src, dst: s.dst, args: [s.src, s.dst, '--state', s.db] };
  },
  { byteNames: true },
);

describe('e2e: restart and durability', { concurrency: 1 }, () => {
  it('kill -9 in the middle of a burst, then restart: nothing lost, no temp files, nothing sent twice', async () => {
    const s = setup('kill9');
    try {
      const d1 = await Daemon.start([s.src, s.dst, '--state', s.db]);
      for (let i = 0; i < 20; i++) {
        mkdirSync(join(s.src, `d${i}`));
        for (let j = 0; j < 100; j++) writeFileSync(join(s.src, `d${i}`, `f${j}`), Buffer.alloc(2048 + j, i));
      }
      await d1.waitFor(/put /, 20_000);
      await d1.stop('SIGKILL');
      // Changes while the daemon is down.
      rmSync(join(s.src, 'd0'), { recursive: true });
      writeFileSync(join(s.src, 'while-down'), 'offline change');
      const d2 = await Daemon.start([s.src, s.dst, '--state', s.db]);
      try {
        await waitForSame(s.src, s.dst, 60_000, d2);
        await sleep(300);
        const puts1 = d1.opCounts()['put'] ?? 0;
        const puts2 = d2.opCounts()['put'] ?? 0;
        // Files that landed before the kill are not sent again: at most the ones in flight at
        // the kill (the executor runs 8 at a time) are sent twice.
        assert.ok(puts1 + puts2 <= 2000 + 1 + 8, `sent ${puts1} before and ${puts2} after the kill`);
        const leftovers = (await treeDifference(s.src, s.dst)) ?? '';
        assert.equal(leftovers, '');
      } finally {
        await d2.stop();
      }
      // A restart with no change sends nothing.
      const d3 = await Daemon.start([s.src, s.dst, '--state', s.db]);
      await sleep(500);
      await d3.stop();
      assert.deepEqual(d3.opCounts(), {});
    } finally {
      s.cleanup();
    }
  });

  it('files sent right after they were written are compared by content once, then trusted', async () => {
    const s = setup('racy');
    try {
      for (let i = 0; i < 20; i++) writeFileSync(join(s.src, `f${i}`), `fresh ${i}`);
      assert.equal((await runCli(['once', s.src, s.dst, '--state', s.db])).code, 0);
      await sleep(2_100); // past the racy window (RACY_WINDOW_MS)
      const second = await runCli(['once', s.src, s.dst, '--state', s.db, '--debug']);
      assert.equal(second.code, 0);
      assert.match(second.stdout, /compared recently written files by content: 20 hashed, 20 settled/);
      const third = await runCli(['once', s.src, s.dst, '--state', s.db, '--debug']);
      assert.equal(third.code, 0);
      assert.doesNotMatch(third.stdout, /compared recently written files/);
      assert.doesNotMatch(third.stdout + second.stdout, /put "/, 'nothing was sent again');
    } finally {
      s.cleanup();
    }
  });

  it('once and check: truthful about the target, exit codes 0 and 1', async () => {
    const s = setup('check');
    try {
      mkdirSync(join(s.src, 'a'));
      writeFileSync(join(s.src, 'a', 'f'), 'same size');
      writeFileSync(join(s.src, 'g'), 'g');
      const once = await runCli(['once', s.src, s.dst, '--state', s.db]);
      assert.equal(once.code, 0, once.stderr);
      const clean = await runCli(['check', s.src, s.dst, '--state', s.db]);
      assert.equal(clean.code, 0, clean.stdout);
      assert.match(clean.stdout, /in sync/);
      // Drift behind our back: same size, other content; an extra file; a missing one.
      writeFileSync(join(s.dst, 'a', 'f'), 'SAME SIZE');
      writeFileSync(join(s.dst, 'extra'), 'x');
      rmSync(join(s.dst, 'g'));
      const dirty = await runCli(['check', s.src, s.dst, '--state', s.db]);
      assert.equal(dirty.code, 1);
      assert.match(dirty.stdout, /content "a\/f"/);
      assert.match(dirty.stdout, /extra +"extra"/);
      assert.match(dirty.stdout, /missing "g"/);
      assert.match(dirty.stdout, /3 differences/);
    } finally {
      s.cleanup();
    }
  });
});

describe('e2e: bad input', { concurrency: 1 }, () => {
  it('a missing source is a clear error with exit status 2', async () => {
    const s = setup('nosrc');
    try {
      const r = await runCli(['once', join(s.root, 'does-not-exist'), s.dst, '--state', s.db]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /source .*does-not-exist does not exist: create it or fix "source"/);
    } finally {
      s.cleanup();
    }
  });

  it('an unknown config key names the key and the fix', async () => {
    const s = setup('badcfg');
    try {
      const cfg = join(s.root, 'c.yaml');
      writeFileSync(cfg, `syncs:\n  - source: ${s.src}\n    exclud: ["*.tmp"]\n    targets: [{url: ${s.dst}}]\n`);
      const r = await runCli(['once', '-c', cfg]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /syncs\[0\]\.exclud: unknown key; did you mean "exclude"\?/);
    } finally {
      s.cleanup();
    }
  });

  it('a target folder inside the source is refused', async () => {
    const s = setup('inside');
    try {
      const r = await runCli(['once', s.src, join(s.src, 'mirror'), '--state', s.db]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /overlap/);
    } finally {
      s.cleanup();
    }
  });

  // Permission cases need a user the kernel enforces permissions for: as root, run the daemon
  // as "nobody"; as an ordinary user, the user itself.
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const user = asRoot ? { uid: 65534, gid: 65534 } : {};
  let perm: Setup;
  before(() => {
    perm = setup('perm');
    chmodSync(perm.root, 0o777);
    chmodSync(perm.src, 0o777);
  });
  after(() => perm.cleanup());

  it('an unreadable file is a per-path problem; the rest is mirrored', async () => {
    const src = join(perm.root, 'src-unreadable');
    const dst = join(perm.root, 'dst-unreadable');
    mkdirSync(src);
    writeFileSync(join(src, 'ok'), 'fine');
    writeFileSync(join(src, 'secret'), 'no');
    mkdirSync(join(src, 'closed'));
    writeFileSync(join(src, 'closed', 'inside'), 'x');
    chmodSync(join(src, 'secret'), 0o000);
    chmodSync(join(src, 'closed'), 0o000);
    if (asRoot) chownSync(join(perm.root), 0, 0);
    chmodSync(perm.root, 0o777);
    const r = await runCli(['once', src, dst, '--state', join(perm.root, 'unreadable.db')], user);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout + r.stderr, /"secret".*(cannot read|EACCES)/);
    assert.match(r.stdout + r.stderr, /"closed": cannot list directory: EACCES/);
    assert.equal(readdirSync(dst).includes('ok'), true);
    chmodSync(join(src, 'closed'), 0o755);
  });

  it('an unwritable destination is retried with backoff; nothing is lost once it is writable', async () => {
    const src = join(perm.root, 'src-unwritable');
    const dst = join(perm.root, 'dst-unwritable');
    mkdirSync(src);
    mkdirSync(dst, { mode: 0o755 });
    chmodSync(src, 0o777);
    writeFileSync(join(src, 'first'), '1');
    if (!asRoot) chmodSync(dst, 0o555);
    const d = await Daemon.start([src, dst, '--state', join(perm.root, 'unwritable.db')], user);
    try {
      await d.waitFor(/target unavailable: .*(EACCES|E_PERMISSION|permission)/i, 15_000);
      writeFileSync(join(src, 'second'), '2');
      await sleep(300);
      assert.deepEqual(readdirSync(dst), []);
      if (asRoot) chownSync(dst, 65534, 65534);
      else chmodSync(dst, 0o755);
      await waitForSame(src, dst, 30_000, d);
      assert.match(d.output, /reachable again/);
    } finally {
      await d.stop();
    }
  });
});
