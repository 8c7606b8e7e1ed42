/**
 * How a target that keeps failing is retried and reported: against the local target on a
 * real full file system (a small tmpfs, mounted by the test as root).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { announceFailure } from '../core/retry.ts';
import { createPathFilter } from '../core/filter.ts';
import { createLogger, type Level } from '../log/logger.ts';
import { SqliteStore } from '../state/sqlite-store.ts';
import { LocalTarget } from '../targets/local/local-target.ts';
import type { PutOptions, PutSource } from '../targets/target.ts';
import { Scanner } from './scanner.ts';
import { TargetSync } from './target-sync.ts';

const work = mkdtempSync(join(tmpdir(), 'si-failures-'));
const mounts: string[] = [];
after(() => {
  for (const m of mounts) execFileSync('umount', [m]);
  rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, test: () => boolean, timeoutMs: number, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await sleep(50);
  }
}

class Counting extends LocalTarget {
  puts = 0;
  override async put(path: string, source: PutSource, options: PutOptions): Promise<void> {
    this.puts++;
    return super.put(path, source, options);
  }
}

describe('announceFailure', () => {
  const table: [number, string | undefined, string, boolean][] = [
    [0, undefined, 'E_NO_SPACE', true], // ok → retrying
    [1, 'E_NO_SPACE', 'E_NO_SPACE', false], // a repeat
    [7, 'E_NO_SPACE', 'E_NO_SPACE', false],
    [3, 'E_NO_SPACE', 'E_CONNECTION', true], // a different failure
  ];
  for (const [before, last, code, want] of table) {
    it(`${before} failure(s), last ${last}, now ${code}: ${want ? 'a line' : 'debug'}`, () => assert.equal(announceFailure(before, last, code), want));
  }
});

describe('a target that keeps failing', { timeout: 60_000, skip: process.getuid?.() !== 0 ? 'needs root to mount a tmpfs' : false }, () => {
  it('a full disk: retries back off, one line per state change, converges once space is free', async () => {
    const src = join(work, 'src');
    const dst = join(work, 'dst');
    mkdirSync(src);
    mkdirSync(dst);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dst]);
    mounts.push(dst);
    const big = Buffer.alloc(2 * 1024 * 1024, 'x');
    writeFileSync(join(src, 'big'), big);
    const target = new Counting(dst);
    const lines: { level: Level; line: string }[] = [];
    const sync = new TargetSync({
      sourceRoot: src,
      target,
      store: new SqliteStore(join(work, 'state.db')),
      scanner: new Scanner({ root: src, filter: createPathFilter({ exclude: [], include: [], ignoreEditorFiles: true, alwaysExcluded: [] }), types: {} }),
      logger: createLogger((level, line) => lines.push({ level, line }), 'debug'),
      concurrency: 4,
      debounceMs: 10,
      debounceMaxMs: 100,
      recursiveRemove: true,
    });
    const shown = () => lines.filter((l) => l.level !== 'debug').map((l) => `${l.level} ${l.line}`);
    try {
      sync.hint([{ path: '', deep: true }]);
      await until('the first failure', () => sync.status().state === 'retrying', 10_000, () => shown().join('\n'));
      await sleep(5_000);
      const attempts = target.puts;
      // Backoff 1 s, 2 s, 4 s … (with jitter, at least half of each): at most 4 attempts in
      // ~5 s. Before, every reconnect reset the count and an attempt came every ~0.7 s.
      assert.ok(attempts >= 2 && attempts <= 4, `${attempts} attempts in 5 s\n${shown().join('\n')}`);
      const unavailable = shown().filter((l) => l.includes('target unavailable'));
      assert.equal(unavailable.length, 1, shown().join('\n'));
      assert.match(unavailable[0]!, /^error .*ENOSPC/);
      assert.equal(shown().filter((l) => l.includes('reachable again')).length, 0, shown().join('\n'));
      assert.equal(shown().filter((l) => /put "big" failed/.test(l)).length, 0, 'a target-wide put failure is told by the state line');
      const status = sync.status();
      assert.equal(status.state, 'retrying');
      assert.match(status.lastError?.message ?? '', /ENOSPC/);

      execFileSync('mount', ['-o', 'remount,size=8m', dst]);
      await until('the file on the target', () => existsSync(join(dst, 'big')) && readFileSync(join(dst, 'big')).equals(big), 30_000, () => shown().join('\n'));
      await until('the state ok', () => sync.status().state === 'ok', 5_000);
      assert.equal(shown().filter((l) => l.includes('reachable again')).length, 1, shown().join('\n'));
      assert.equal(shown().filter((l) => l.includes('target unavailable')).length, 1, shown().join('\n'));
      assert.equal(sync.status().reason, undefined);
    } finally {
      await sync.stop();
    }
  });
});
