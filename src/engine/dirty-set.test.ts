/**
 * DirtySet and files closed after writing: a closed hint flushes at once and is taken, a path
 * still being written beside it keeps its quiet window, and a later write undoes the close.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirtySet } from './dirty-set.ts';

const QUIET = 20;
const MAX = 1000;

describe('DirtySet with closed hints', () => {
  it('a closed file flushes at once; an open one beside it stays for its window', () => {
    const d = new DirtySet();
    d.hint([{ path: 'open', deep: false }], 100);
    assert.equal(d.flushDelay(100, QUIET, MAX), QUIET);
    d.hint([{ path: 'done', deep: false, closed: true }], 101);
    assert.equal(d.flushDelay(101, QUIET, MAX), 0);
    const taken = d.take(101, QUIET, MAX);
    assert.deepEqual(taken.scopes, [{ path: 'done', deep: false }]);
    assert.deepEqual([...taken.unsettled], ['open']);
    // Only the open one is left: back to the quiet window, counted from the last hint.
    assert.equal(d.flushDelay(101, QUIET, MAX), QUIET);
  });

  it('written again after the close: no longer closed, waits again', () => {
    const d = new DirtySet();
    d.hint([{ path: 'f', deep: false, closed: true }], 100);
    d.hint([{ path: 'f', deep: false }], 102);
    assert.equal(d.flushDelay(102, QUIET, MAX), QUIET);
    assert.deepEqual(d.take(102, QUIET, MAX).scopes, []);
  });

  it('a requeued path (a failed cycle) is not closed: it does not force flushes', () => {
    const d = new DirtySet();
    d.hint([{ path: 'f', deep: false, closed: true }], 100);
    const taken = d.take(100, QUIET, MAX);
    d.requeue(taken.scopes, 105);
    d.hint([{ path: 'g', deep: false }], 105);
    assert.equal(d.flushDelay(105, QUIET, MAX), QUIET);
  });
});
