/* eslint-disable no-control-regex -- the escape codes of a terminal are what is tested */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProgressCounts } from '../engine/progress.ts';
import { aroundOverlay } from '../log/terminal-overlay.ts';
import { formatFinalLine, formatProgressLine, formatSeconds, ProgressBoard } from './progress-line.ts';

const counts = (c: Partial<ProgressCounts>): ProgressCounts => ({ startedAt: 0, opsTotal: 100, opsDone: 50, filesTotal: 90, filesDone: 45, bytesTotal: 10 * 1024 * 1024, bytesDone: 4 * 1024 * 1024, planComplete: true, ...c });

describe('progress line text', () => {
  it('files and bytes done of total, rate, time left', () => {
    assert.equal(formatProgressLine('/mnt/b', counts({}), 1024 * 1024, 10), '/mnt/b  50%  45/90 files  4.0 MiB/10.0 MiB  1.0 MiB/s  ETA 6 s');
  });
  it('while the plan grows, the totals are marked and no time is promised', () => {
    assert.equal(formatProgressLine('t', counts({ planComplete: false }), 0, 0), 't  50%  45/90+ files  4.0 MiB/10.0 MiB+  0 B/s  ETA ? (still scanning)');
  });
  it('small files: the operation rate decides when it is the slower one', () => {
    assert.match(formatProgressLine('t', counts({ bytesDone: 10 * 1024 * 1024 - 1 }), 1024 * 1024, 1), /ETA 50 s$/);
  });
  it('final line', () => {
    assert.equal(formatFinalLine('t', counts({ opsDone: 100, filesDone: 90, bytesDone: 10 * 1024 * 1024 }), 5000), 't  done: 90 of 90 files, 10.0 MiB (100 of 100 operations) in 5 s, 2.0 MiB/s');
  });
  it('formatSeconds', () => {
    assert.deepEqual([0.4, 59, 61, 3600 + 125, Infinity].map(formatSeconds), ['0 s', '59 s', '1 min 01 s', '1 h 02 min', '?']);
  });
});

describe('ProgressBoard', () => {
  it('draws below log lines: erased before a line is written, drawn again after; the final line stays', () => {
    let written = '';
    const out = { columns: 200, write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
    const board = new ProgressBoard(out, () => 1000).install();
    try {
      let c = counts({ startedAt: 0 });
      const shown = board.view('T').show(() => c);
      assert.match(written, /^\x1b\[2KT {2}50%.*\n$/);
      written = '';
      aroundOverlay(() => out.write('a log line\n'));
      assert.match(written, /^\x1b\[1A\r\x1b\[0Ja log line\n\x1b\[2KT {2}50%/);
      written = '';
      c = counts({ opsDone: 100, filesDone: 90, bytesDone: c.bytesTotal });
      shown.done();
      assert.equal(written, '\x1b[1A\r\x1b[0JT  done: 90 of 90 files, 10.0 MiB (100 of 100 operations) in 1 s, 10.0 MiB/s\n');
      written = '';
      aroundOverlay(() => out.write('after\n'));
      assert.equal(written, 'after\n', 'nothing drawn once the work is done');
    } finally {
      board.uninstall();
    }
  });
});
