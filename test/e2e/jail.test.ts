/**
 * End to end through the CLI: the target root is a jail. A running daemon mirrors to a local
 * folder; someone replaces a mirrored directory on the target by a link to a folder outside
 * it. Changes under that directory must not reach the outside folder, the daemon says which
 * path is refused and why, and everything else keeps syncing.
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Daemon, sleep, tempDir, waitForSame } from './harness.ts';

/** Every name and content under `dir`, for comparing before and after. */
function snapshot(dir: string): string {
  const walk = (rel: string): string[] =>
    readdirSync(join(dir, rel))
      .sort()
      .flatMap((name) => {
        const p = rel === '' ? name : `${rel}/${name}`;
        const st = lstatSync(join(dir, p));
        return st.isDirectory() ? [`${p}/`, ...walk(p)] : [`${p}: ${readFileSync(join(dir, p), 'utf8')} ${st.mtimeMs}`];
      });
  return walk('').join('\n');
}

async function waitForFile(path: string, content: string, timeoutMs: number, daemon: Daemon): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let now: string | undefined;
    try {
      now = readFileSync(path, 'utf8');
    } catch {
      now = undefined;
    }
    if (now === content) return;
    if (Date.now() > deadline) throw new Error(`${path} is ${JSON.stringify(now)}, not ${JSON.stringify(content)}\n--- daemon output (tail) ---\n${daemon.output.slice(-3000)}`);
    await sleep(50);
  }
}

describe('e2e: the target root is a jail', () => {
  it('a mirrored directory replaced by a link on the target: nothing outside is touched, the path is reported, the rest keeps syncing', async () => {
    const t = tempDir('jail');
    const src = join(t.path, 'src');
    const dst = join(t.path, 'dst');
    const outside = join(t.path, 'outside');
    try {
      mkdirSync(join(src, 'a/sub'), { recursive: true });
      mkdirSync(join(src, 'b'));
      writeFileSync(join(src, 'a/1'), 'one');
      writeFileSync(join(src, 'a/2'), 'two');
      writeFileSync(join(src, 'a/sub/3'), 'three');
      writeFileSync(join(src, 'b/1'), 'b one');
      mkdirSync(join(outside, 'sub'), { recursive: true });
      writeFileSync(join(outside, '1'), 'theirs');
      writeFileSync(join(outside, '2'), 'theirs too');
      writeFileSync(join(outside, 'sub/3'), 'deep and theirs');
      const before = snapshot(outside);

      const daemon = await Daemon.start([src, dst, '--state', join(t.path, 'state.db')]);
      try {
        await waitForSame(src, dst, 20_000, daemon);
        // The operator (or an attacker) swaps the mirrored directory for a link.
        rmSync(join(dst, 'a'), { recursive: true });
        symlinkSync(outside, join(dst, 'a'));

        writeFileSync(join(src, 'a/1'), 'one, changed');
        writeFileSync(join(src, 'a/new'), 'new');
        rmSync(join(src, 'a/2'));
        writeFileSync(join(src, 'a/sub/3'), 'three, changed');
        mkdirSync(join(src, 'a/made'));
        writeFileSync(join(src, 'a/made/f'), 'made');
        writeFileSync(join(src, 'b/1'), 'b one, changed');
        mkdirSync(join(src, 'c'));
        writeFileSync(join(src, 'c/f'), 'c');

        await waitForFile(join(dst, 'b/1'), 'b one, changed', 20_000, daemon);
        await waitForFile(join(dst, 'c/f'), 'c', 20_000, daemon);
        await daemon.waitFor(/symbolic link on the target/, 20_000);
        assert.match(daemon.output, /"a" is a symbolic link on the target/, 'the refused directory is named');
        assert.equal(snapshot(outside), before, 'the folder the link points at changed');

        // The whole directory goes away in the source: deletes do not go through the link either.
        rmSync(join(src, 'a'), { recursive: true });
        writeFileSync(join(src, 'b/2'), 'after the delete');
        await waitForFile(join(dst, 'b/2'), 'after the delete', 30_000, daemon);
        await sleep(500);
        assert.equal(snapshot(outside), before, 'the folder the link points at changed after the delete');
        assert.ok(lstatSync(join(dst, 'a')).isSymbolicLink(), 'the link itself is left for the operator');
      } finally {
        await daemon.stop();
      }
    } finally {
      t.cleanup();
    }
  });
});
