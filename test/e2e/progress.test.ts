/**
 * The live progress line (README: Progress) through the real CLI: under a pseudo-terminal
 * (util-linux `script`) a long first push draws one line per target, redrawn in place with
 * ANSI cursor moves, and ends with a final line of totals; with `--no-progress`, or without a
 * terminal, there is no escape code at all and every operation is logged.
 */
/* eslint-disable no-control-regex -- the escape codes of a terminal are what is tested */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BIN, runCli, tempDir, treeDifference } from './harness.ts';

const SCRIPT = '/usr/bin/script';
const FILES = 300;

function sh(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs the CLI under a pseudo-terminal; resolves with everything it wrote there. */
function underPty(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, BIN, ...args].map(sh).join(' ');
    const child = spawn(SCRIPT, ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm', COLUMNS: '150' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function tree(name: string) {
  const dir = tempDir(name);
  const src = join(dir.path, 'src');
  for (let d = 0; d < 6; d++) {
    mkdirSync(join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < FILES / 6; f++) writeFileSync(join(src, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`.repeat(50));
  }
  return { dir, src, dst: join(dir.path, 'dst'), state: join(dir.path, 's.db') };
}

describe('e2e: progress line', { concurrency: 1, skip: !existsSync(SCRIPT) && process.env['CI'] !== 'true' ? 'util-linux script(1) missing' : false }, () => {
  it('on a terminal: one line redrawn in place, then a final line with the totals', async () => {
    const { dir, src, dst, state } = tree('progress-tty');
    try {
      const r = await underPty(['once', src, dst, '--state', state]);
      assert.equal(r.code, 0, r.output);
      assert.ok(r.output.includes('\x1b[2K'), `the line is cleared before it is drawn:\n${JSON.stringify(r.output.slice(0, 500))}`);
      assert.ok(r.output.includes('\x1b[1A\r\x1b[0J'), 'the cursor goes back up over the line to redraw it');
      assert.match(r.output, /files {2}[\d.]+ (B|KiB|MiB)\/[\d.]+ (KiB|MiB)\+? {2}[\d.]+ (B|KiB|MiB)\/s {2}ETA/, 'files, bytes done of total, rate, time left');
      assert.match(r.output, new RegExp(`done: ${FILES} of ${FILES} files, [\\d.]+ KiB \\((\\d+) of \\1 operations\\) in \\d+ s`), 'the final line with the totals');
      assert.doesNotMatch(r.output, /put "d0\/f1\.txt"/, 'operation lines are not shown while the progress line is');
      assert.equal(await treeDifference(src, dst), undefined);
    } finally {
      dir.cleanup();
    }
  });

  it('--no-progress on a terminal, and any output that is not a terminal: no escape codes, every operation logged', async () => {
    const a = tree('progress-off');
    const b = tree('progress-pipe');
    try {
      const off = await underPty(['once', a.src, a.dst, '--state', a.state, '--no-progress']);
      assert.equal(off.code, 0, off.output);
      assert.doesNotMatch(off.output, /\x1b\[/);
      assert.match(off.output, /put "d0\/f1\.txt" 450 B/);
      const piped = await runCli(['once', b.src, b.dst, '--state', b.state]);
      assert.equal(piped.code, 0, piped.stderr);
      assert.doesNotMatch(piped.stdout + piped.stderr, /\x1b\[/);
      assert.match(piped.stdout, /put "d0\/f1\.txt" 450 B/);
      assert.doesNotMatch(piped.stdout, /progress:|done: \d+ of/);
    } finally {
      a.dir.cleanup();
      b.dir.cleanup();
    }
  });
});
