/**
 * Fault injection for the safety gates, through the real CLI: the source unmounted, emptied or
 * replaced while the daemon watches, across a restart, and under `once`. Nothing may be
 * deleted on the target until the source is back or the operator confirms; the daemon never
 * exits on it. Mounts are bind mounts and tmpfs, so these tests need root (CI runs as root;
 * elsewhere they skip with a loud line, and under CI=true a missing root is a failure).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serverMissing } from '../helpers/server-required.ts';
import { Daemon, runCli, sleep, tempDir, waitForSame } from './harness.ts';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : serverMissing('mount (root)', 'the safety-gate tests mount and unmount file systems, which needs root');

interface Setup {
  root: string;
  /** The data the source shows while it is mounted. */
  real: string;
  /** The source folder: a bind mount of `real` (or empty, once unmounted). */
  src: string;
  dst: string;
  db: string;
  cleanup(): void;
}

function mount(...args: string[]): void {
  execFileSync('mount', args, { stdio: 'pipe' });
}

function umount(path: string): void {
  execFileSync('umount', [path], { stdio: 'pipe' });
}

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
}

/** A source folder that is a bind mount of another folder, with a small tree in it. */
function setup(name: string, files = 20): Setup {
  const t = tempDir(`gate-${name}`);
  const s = { root: t.path, real: join(t.path, 'real'), src: join(t.path, 'src'), dst: join(t.path, 'dst'), db: join(t.path, 'state.db') };
  mkdirSync(join(s.real, 'sub'), { recursive: true });
  mkdirSync(s.src);
  for (let i = 0; i < files; i++) writeFileSync(join(s.real, i % 2 ? 'sub' : '', `f${i}.txt`), `file ${i}\n`);
  mount('--bind', s.real, s.src);
  return {
    ...s,
    cleanup() {
      while (mounted(s.src)) umount(s.src);
      t.cleanup();
    },
  };
}

function count(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? 1 + count(join(dir, e.name)) : 1;
  return n;
}

async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, daemon?: Daemon): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${daemon ? `\n--- daemon output ---\n${daemon.output.slice(-3000)}` : ''}`);
    await sleep(100);
  }
}

describe('e2e: safety gates hold while watching', { concurrency: 1, skip }, () => {
  it('source unmounted while running: nothing deleted, the daemon stays up, and resumes by itself when it is mounted again', async () => {
    const s = setup('umount');
    let d: Daemon | undefined;
    try {
      d = await Daemon.start([s.src, s.dst, '--state', s.db]);
      await waitForSame(s.src, s.dst, 20_000, d);
      const before = count(s.dst);
      umount(s.src);
      await d.waitFor(/halted, nothing deleted: the source folder is empty/, 15_000);
      // A mount point with files of its own (written while unmounted) is not the source either.
      writeFileSync(join(s.src, 'stray.txt'), 'written into the bare mount point\n');
      await sleep(6_000); // more than one re-check (every 5 s) and root check (every 2 s)
      assert.equal(d.child.exitCode, null, `the daemon exited:\n${d.output.slice(-2000)}`);
      assert.equal(count(s.dst), before, `entries were deleted on the target:\n${d.output.slice(-2000)}`);
      assert.ok(!existsSync(join(s.dst, 'stray.txt')), 'the bare mount point was mirrored');
      assert.match(d.output, /not the one last mirrored|empty/);
      // Mounted again, with a change made meanwhile: mirrored, nothing else touched.
      writeFileSync(join(s.real, 'while-unmounted.txt'), 'new\n');
      rmSync(join(s.real, 'f0.txt'));
      mount('--bind', s.real, s.src);
      await d.waitFor(/resuming/, 15_000);
      await waitForSame(s.src, s.dst, 20_000, d);
      assert.ok(existsSync(join(s.dst, 'while-unmounted.txt')));
      assert.ok(!existsSync(join(s.dst, 'f0.txt')), 'a delete made in the source while unmounted is mirrored after the remount');
      // And it is watching the remounted tree again (a new walk).
      writeFileSync(join(s.src, 'sub', 'after.txt'), 'after\n');
      await waitForSame(s.src, s.dst, 20_000, d);
    } finally {
      await d?.stop();
      s.cleanup();
    }
  });

  it('source unmounted, daemon restarted (systemd Restart=): nothing deleted at the start either', async () => {
    const s = setup('restart');
    let d: Daemon | undefined;
    try {
      d = await Daemon.start([s.src, s.dst, '--state', s.db]);
      await waitForSame(s.src, s.dst, 20_000, d);
      await d.stop();
      const before = count(s.dst);
      umount(s.src);
      writeFileSync(join(s.src, 'stray.txt'), 'the bare mount point\n');
      d = await Daemon.start([s.src, s.dst, '--state', s.db]);
      await d.waitFor(/halted, nothing deleted: the source folder is not the one last mirrored/, 15_000);
      await sleep(1_500); // the rename grace and a re-check
      assert.equal(count(s.dst), before, `entries were deleted on the target:\n${d.output.slice(-2000)}`);
      assert.equal(d.child.exitCode, null);
      mount('--bind', s.real, s.src);
      await d.waitFor(/resuming/, 15_000);
      await waitForSame(s.src, s.dst, 20_000, d);
    } finally {
      await d?.stop();
      s.cleanup();
    }
  });

  it('every file removed from a running source: halted; `allow-delete` confirms and the target is emptied', async () => {
    const s = setup('rmstar');
    const name = `gate-rmstar-${process.pid}`;
    const cfg = join(s.root, 'site.yaml');
    writeFileSync(cfg, `name: ${name}\npidFile: ./run/${name}.pid\nlog: terminal\nstate: ./state.db\nsyncs:\n  - source: ./src\n    targets:\n      - url: ./dst\n`);
    let d: Daemon | undefined;
    try {
      d = await Daemon.start(['-c', cfg]);
      await waitForSame(s.src, s.dst, 20_000, d);
      const before = count(s.dst);
      // `rm -f src/*` and the subfolder: what a wrong working directory does.
      for (const n of readdirSync(s.src)) rmSync(join(s.src, n), { recursive: true });
      await d.waitFor(/halted, nothing deleted: the source folder is empty/, 15_000);
      await sleep(1_000);
      assert.equal(count(s.dst), before, `entries were deleted on the target:\n${d.output.slice(-2000)}`);
      const status = await runCli(['status', '-c', cfg]);
      assert.match(status.stdout, /halted by a safety gate: the source folder is empty/);
      assert.match(d.output, /allow-delete/, 'the log says how to confirm');
      const confirm = await runCli(['allow-delete', '-c', cfg]);
      assert.equal(confirm.code, 0, confirm.stderr);
      assert.match(confirm.stdout, /deletes confirmed/);
      await waitUntil('the target to be emptied', () => count(s.dst) === 0, 15_000, d);
      // Not halted any more: new files flow again.
      writeFileSync(join(s.src, 'fresh.txt'), 'fresh\n');
      await waitForSame(s.src, s.dst, 20_000, d);
      const again = await runCli(['allow-delete', '-c', cfg]);
      assert.equal(again.code, 1, 'nothing to confirm when no target is halted');
    } finally {
      await d?.stop();
      s.cleanup();
    }
  });

  it('`once` on an emptied source exits 1 and deletes nothing; `once --allow-delete` empties the target', async () => {
    const s = setup('once');
    try {
      const first = await runCli(['once', s.src, s.dst, '--state', s.db]);
      assert.equal(first.code, 0, first.stderr + first.stdout);
      const before = count(s.dst);
      for (const n of readdirSync(s.real)) rmSync(join(s.real, n), { recursive: true });
      const refused = await runCli(['once', s.src, s.dst, '--state', s.db]);
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stdout + refused.stderr, /halted, nothing deleted: the source folder is empty.*allow-delete/);
      assert.equal(count(s.dst), before);
      const confirmed = await runCli(['once', '--allow-delete', s.src, s.dst, '--state', s.db]);
      assert.equal(confirmed.code, 0, confirmed.stdout + confirmed.stderr);
      assert.equal(count(s.dst), 0);
    } finally {
      s.cleanup();
    }
  });

  it('`once` on a source unmounted since the last sync (a bare mount point with stray files): exit 1, nothing deleted', async () => {
    const s = setup('once-umount');
    try {
      assert.equal((await runCli(['once', s.src, s.dst, '--state', s.db])).code, 0);
      const before = count(s.dst);
      umount(s.src);
      writeFileSync(join(s.src, 'stray.txt'), 'x\n');
      const r = await runCli(['once', s.src, s.dst, '--state', s.db]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout + r.stderr, /not the one last mirrored/);
      assert.equal(count(s.dst), before);
      assert.ok(!existsSync(join(s.dst, 'stray.txt')));
    } finally {
      s.cleanup();
    }
  });

  it('source folder removed while running (the quick form, no control socket): the daemon keeps running and picks it up again', async () => {
    const t = tempDir('gate-gone');
    const src = join(t.path, 'src');
    const dst = join(t.path, 'dst');
    mkdirSync(src);
    for (let i = 0; i < 5; i++) writeFileSync(join(src, `g${i}`), `${i}`);
    let d: Daemon | undefined;
    try {
      d = await Daemon.start([src, dst, '--state', join(t.path, 'state.db')]);
      await waitForSame(src, dst, 20_000, d);
      execFileSync('mv', [src, join(t.path, 'moved-away')]);
      await d.waitFor(/halted, nothing deleted: the source folder is missing/, 15_000);
      await sleep(3_000);
      assert.equal(d.child.exitCode, null, `the daemon exited:\n${d.output.slice(-2000)}`);
      assert.equal(count(dst), 5);
      execFileSync('mv', [join(t.path, 'moved-away'), src]);
      writeFileSync(join(src, 'g9'), 'back\n');
      await waitForSame(src, dst, 20_000, d);
      assert.match(d.output, /resuming/);
    } finally {
      await d?.stop();
      t.cleanup();
    }
  });
});

describe('e2e: target faults (local target on its own file system)', { concurrency: 1, skip }, () => {
  it('the target remounted read-only in the middle of a burst: per-path errors, nothing lost, converges once writable', async () => {
    const t = tempDir('gate-ro');
    const src = join(t.path, 'src');
    const mnt = join(t.path, 'mnt');
    const dst = join(mnt, 'mirror');
    mkdirSync(src);
    mkdirSync(mnt);
    mount('-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt);
    let d: Daemon | undefined;
    try {
      d = await Daemon.start([src, dst, '--state', join(t.path, 'state.db')]);
      for (let i = 0; i < 10; i++) {
        mkdirSync(join(src, `d${i}`));
        for (let j = 0; j < 50; j++) writeFileSync(join(src, `d${i}`, `f${j}`), Buffer.alloc(4096 + j, i));
      }
      await d.waitFor(/put "/, 20_000);
      // A read-only bind mount over it (a remount of the tmpfs itself is refused while files
      // are open for writing): new writes fail with EROFS, open ones may finish.
      mount('--bind', mnt, mnt);
      // The read-only remount is refused (EBUSY) while a file is open for writing through the
      // new bind mount, and the daemon writes all the time: try again for a moment between writes.
      for (let tries = 0; ; tries++) {
        try {
          mount('-o', 'remount,bind,ro', mnt);
          break;
        } catch (err) {
          if (tries >= 400 || !/busy/i.test(String((err as { stderr?: unknown }).stderr ?? err))) throw err;
          await sleep(5);
        }
      }
      writeFileSync(join(src, 'while-read-only'), 'queued\n');
      await d.waitFor(/failed: .*(permission|read-only|EROFS)/i, 20_000);
      await sleep(1_000);
      assert.equal(d.child.exitCode, null);
      umount(mnt); // the writable tmpfs again
      // waitForSame compares every name, so a leftover temp file would show as a difference.
      await waitForSame(src, dst, 90_000, d);
    } finally {
      await d?.stop();
      while (mounted(mnt)) umount(mnt);
      t.cleanup();
    }
  });
});
