/**
 * `bwlimit` through the real CLI (README: Bandwidth limits): a push is no faster than the
 * limit allows (loosely: timed assertions must not flake; bench/bwlimit.ts measures it), and
 * a bad value is refused naming the key and the fix.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, tempDir, treeDifference } from './harness.ts';

describe('e2e: bwlimit', () => {
  it('once --bwlimit 1M: 1.5 MiB over several connections takes at least the time the limit allows', async () => {
    const dir = tempDir('bwlimit');
    const src = join(dir.path, 'src');
    const dst = join(dir.path, 'dst');
    mkdirSync(src);
    for (let i = 0; i < 6; i++) writeFileSync(join(src, `f${i}.bin`), Buffer.alloc(256 * 1024, i));
    try {
      const started = Date.now();
      const r = await runCli(['once', src, dst, '--bwlimit', '1M', '--state', join(dir.path, 's.db')]);
      const seconds = (Date.now() - started) / 1000;
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout + r.stderr, /uploads limited to 1 MiB\/s \(all its connections together\)/);
      assert.equal(await treeDifference(src, dst), undefined);
      // 1.5 MiB at 1 MiB/s, less the 50 ms an idle target may send at once: 1.45 s.
      const minimum = (1.5 * 1024 * 1024 - 0.05 * 1024 * 1024) / (1024 * 1024);
      assert.ok(seconds >= minimum / 1.1, `took ${seconds} s; the limit allows no less than ${minimum} s`);
    } finally {
      dir.cleanup();
    }
  });

  it('a bad bwlimit is refused at start with the key and the fix', async () => {
    const dir = tempDir('bwlimit-bad');
    mkdirSync(join(dir.path, 'src'));
    const cfg = join(dir.path, 'site.yaml');
    writeFileSync(cfg, `syncs:\n  - source: ${join(dir.path, 'src')}\n    targets:\n      - url: ${join(dir.path, 'dst')}\n        bwlimit: 1024\n`);
    try {
      const r = await runCli(['once', '-c', cfg, '--state', join(dir.path, 's.db')]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /syncs\[0\]\.targets\[0\]\.bwlimit: 1024 has no unit .*write a rate with its unit such as 10M or 512k/);
      const q = await runCli(['once', join(dir.path, 'src'), join(dir.path, 'dst'), '--bwlimit', '08:00,1M 19:00']);
      assert.equal(q.code, 2);
      assert.match(q.stderr, /--bwlimit: timetable entry "19:00" is not HH:MM,RATE/);
    } finally {
      dir.cleanup();
    }
  });
});
