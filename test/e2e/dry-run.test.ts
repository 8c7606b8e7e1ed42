/**
 * `--dry-run` through the real CLI (README: Dry run): the plan is printed, one line per
 * operation, and nothing changes: the target tree and the state file stay byte for byte as
 * they were (no -wal/-shm appears either), for a tree with creations, a changed file, a
 * deletion and a rename; a first dry run creates neither the state file nor the target.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Daemon, runCli, tempDir, treeDifference } from './harness.ts';

/** Every file under `dir` (names, kinds, bytes) as one digest line each. */
function snapshot(dir: string): string[] {
  if (!existsSync(dir)) return ['(missing)'];
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = statSync(join(dir, p));
      if (st.isDirectory()) {
        out.push(`${p}/`);
        walk(p);
      } else out.push(`${p} ${createHash('sha256').update(readFileSync(join(dir, p))).digest('hex')}`);
    }
  };
  walk('');
  return out;
}

function setUp(name: string) {
  const dir = tempDir(name);
  const src = join(dir.path, 'src');
  const dst = join(dir.path, 'dst');
  const stateDir = join(dir.path, 'state');
  mkdirSync(join(src, 'sub'), { recursive: true });
  mkdirSync(stateDir);
  writeFileSync(join(src, 'a.txt'), 'hi\n');
  writeFileSync(join(src, 'sub', 'b'), 'x\n');
  writeFileSync(join(src, 'gone'), 'old\n');
  return { dir, src, dst, state: join(stateDir, 's.db'), stateDir };
}

/** After a real first push: a creation (in a new directory), a change, a deletion, a rename. */
function change(src: string): void {
  rmSync(join(src, 'gone'));
  writeFileSync(join(src, 'a.txt'), 'changed more\n');
  mkdirSync(join(src, 'new'));
  writeFileSync(join(src, 'new', 'c d'), 'n\n');
  renameSync(join(src, 'sub'), join(src, 'sub2'));
}

describe('e2e: --dry-run', { concurrency: 1 }, () => {
  it('once --dry-run prints the plan with sizes and changes neither the target nor the state file', async () => {
    const { dir, src, dst, state, stateDir } = setUp('dry-once');
    try {
      const first = await runCli(['once', src, dst, '--state', state]);
      assert.equal(first.code, 0, first.stderr);
      change(src);
      const target = snapshot(dst);
      const store = snapshot(stateDir);
      const r = await runCli(['once', src, dst, '--state', state, '--dry-run']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.deepEqual(
        lines.filter((l) => !l.startsWith('dry run:')).sort(),
        ['mkdir "new"', 'put "a.txt" 13 B', 'put "new/c d" 2 B', 'remove "gone" 4 B', 'rename "sub" -> "sub2"'],
        r.stdout,
      );
      assert.equal(lines.at(-1), 'dry run: 5 operations planned (2 puts, 15 B; 1 removal); nothing was changed');
      assert.deepEqual(snapshot(dst), target, 'the target is unchanged');
      assert.deepEqual(snapshot(stateDir), store, 'the state file is unchanged byte for byte, and nothing appeared beside it');
      // The real run afterwards does what was printed.
      const real = await runCli(['once', src, dst, '--state', state]);
      assert.equal(real.code, 0, real.stderr);
      for (const l of ['rename "sub" -> "sub2"', 'remove "gone"', 'put "new/c d" 2 B']) assert.ok(real.stdout.includes(l), `${l} in\n${real.stdout}`);
      assert.equal(await treeDifference(src, dst), undefined);
    } finally {
      dir.cleanup();
    }
  });

  it('a first once --dry-run creates neither the state file nor the target; --verify is refused with it', async () => {
    const { dir, src, dst, state, stateDir } = setUp('dry-first');
    try {
      const r = await runCli(['once', src, dst, '--state', state, '--dry-run']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^put "sub\/b" 2 B$/m);
      assert.match(r.stdout, /dry run: 4 operations planned \(3 puts, 9 B; 0 removals\)/);
      assert.equal(existsSync(dst), false, 'the target root was not created');
      assert.deepEqual(readdirSync(stateDir), [], 'no state file');
      const v = await runCli(['once', src, dst, '--state', state, '--dry-run', '--verify']);
      assert.equal(v.code, 2);
      assert.match(v.stderr, /--verify .* --dry-run never contacts it/);
    } finally {
      dir.cleanup();
    }
  });

  it('run --dry-run prints the first plan, then the plan of each change, and carries out nothing', async () => {
    const { dir, src, dst, state, stateDir } = setUp('dry-run');
    try {
      const first = await runCli(['once', src, dst, '--state', state]);
      assert.equal(first.code, 0, first.stderr);
      change(src);
      const target = snapshot(dst);
      const store = snapshot(stateDir);
      const daemon = await Daemon.start([src, dst, '--state', state, '--dry-run']);
      try {
        await daemon.waitFor(/dry run: rename "sub" -> "sub2"/, 20_000);
        await daemon.waitFor(/dry run: put "new\/c d" 2 B/, 20_000);
        writeFileSync(join(src, 'later.txt'), 'later\n');
        await daemon.waitFor(/dry run: put "later.txt" 6 B/, 20_000);
      } finally {
        assert.equal(await daemon.stop(), 0);
      }
      assert.doesNotMatch(daemon.output, /^\S+ put "/m, 'no operation was carried out');
      assert.deepEqual(snapshot(dst), target, 'the target is unchanged');
      assert.deepEqual(snapshot(stateDir), store, 'the state file is unchanged');
    } finally {
      dir.cleanup();
    }
  });
});
