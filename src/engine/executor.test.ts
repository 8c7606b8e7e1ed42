import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Op } from '../core/ops.ts';
import { Executor, type OpOutcome } from './executor.ts';

function op(id: number, deps: number[] = [], after?: number[]): Op {
  const path = `p${id}`;
  return { id, deps, kind: 'mkdir', path, entry: { path, kind: 'dir', size: 0, mtimeMs: 0, ino: path }, ...(after ? { after } : {}) };
}

/** A run function whose ops end when the test says so, recording what started. */
function controlled() {
  const started: number[] = [];
  const pending = new Map<number, (o: OpOutcome) => void>();
  const run = (o: Op) => {
    started.push(o.id);
    return new Promise<OpOutcome>((resolve) => pending.set(o.id, resolve));
  };
  const end = async (id: number, outcome: OpOutcome = { status: 'done' }) => {
    pending.get(id)!(outcome);
    pending.delete(id);
    await new Promise((r) => setImmediate(r));
  };
  return { started, run, end };
}

const ids = (ops: readonly Op[]) => ops.map((o) => o.id).sort((a, b) => a - b);
const tick = () => new Promise((r) => setImmediate(r));

describe('Executor', () => {
  it('runs a whole plan in dependency order within the concurrency limit', async () => {
    const c = controlled();
    const running = new Executor(2).execute([op(1), op(2, [1]), op(3, [1]), op(4)], c.run);
    await tick();
    assert.deepEqual(c.started, [1, 4], 'the first ops without dependencies, two at a time');
    await c.end(1);
    assert.deepEqual(c.started, [1, 4, 2], 'a dependent starts once its dependency is done');
    await c.end(4);
    await c.end(2);
    await c.end(3);
    const report = await running;
    assert.deepEqual(ids(report.done), [1, 2, 3, 4]);
  });

  it('joining: a dependent starts while its joinable dependency runs; each ends by its own outcome', async () => {
    const c = controlled();
    // 2 and 3 may join 1; 4 (after a non-joinable 5) and 6 (an `after` on 1) wait for their dependencies to end.
    const joins = (o: Op, dep: Op) => dep.id === 1 || dep.id === 2;
    const running = new Executor(10).execute([op(1), op(2, [1]), op(3, [2]), op(5), op(4, [1, 5]), op(6, [], [1])], c.run, joins);
    await tick();
    assert.deepEqual([...c.started].sort(), [1, 2, 3, 5], 'the chain under 1 started with it; 4 waits for 5, 6 for 1 to end');
    await c.end(3); // a joined op may end before its dependency
    await c.end(1, { status: 'failed', error: new Error('mkdir refused') });
    assert.ok(c.started.includes(6), '6 runs once 1 ended, whichever way');
    assert.ok(!c.started.includes(4), '4 never runs: 1 failed');
    await c.end(2, { status: 'retry-later', reason: 'its directory was not made' });
    await c.end(5);
    await c.end(6);
    const report = await running;
    assert.deepEqual(ids(report.done), [3, 5, 6], 'the joined op that ended well is done, not skipped');
    assert.deepEqual(ids(report.retryLater), [2]);
    assert.deepEqual(ids(report.failed.map((f) => f.op)), [1]);
    assert.deepEqual(ids(report.skipped), [4], 'a dependent that had not started is skipped as before');
  });

  it('joining: a joined op not yet started is skipped when its dependency fails first', async () => {
    const c = controlled();
    const running = new Executor(1).execute([op(1), op(2, [1])], c.run, () => true);
    await tick();
    assert.deepEqual(c.started, [1], 'concurrency 1: the joined op waits for a slot');
    await c.end(1, { status: 'failed', error: new Error('no') });
    const report = await running;
    assert.deepEqual(c.started, [1]);
    assert.deepEqual(ids(report.skipped), [2]);
  });

  it('skips the dependents of an op that did not succeed, and their dependents', async () => {
    const report = await new Executor(4).execute([op(1), op(2, [1]), op(3, [2]), op(4)], async (o) => (o.id === 1 ? { status: 'failed', error: new Error('no') } : { status: 'done' }));
    assert.deepEqual(ids(report.failed.map((f) => f.op)), [1]);
    assert.deepEqual(ids(report.skipped), [2, 3]);
    assert.deepEqual(ids(report.done), [4]);
  });

  it('ops whose dependencies wait for each other end as skipped and stuck, the rest runs', async () => {
    const report = await new Executor(4).execute([op(1), op(2, [3]), op(3, [2]), op(4, [2])], async () => ({ status: 'done' }));
    assert.deepEqual(ids(report.done), [1]);
    assert.deepEqual(ids(report.skipped), [2, 3, 4]);
    assert.deepEqual(ids(report.stuck), [2, 3, 4], 'nothing failed or stopped: a cycle, reported as such');
  });

  it('ops left by a failure are skipped, not stuck', async () => {
    const report = await new Executor(4).execute([op(1), op(2, [1])], async (o) => (o.id === 1 ? { status: 'failed', error: new Error('no') } : { status: 'done' }));
    assert.deepEqual(ids(report.skipped), [2]);
    assert.deepEqual(report.stuck, []);
  });

  it('takes a plan in batches that depend on earlier ones, finished or not', async () => {
    const c = controlled();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    async function* feed() {
      yield [op(1), op(2)];
      await gate;
      yield [op(3, [1]), op(4, [2]), op(5)];
    }
    const running = new Executor(4).execute(feed(), c.run);
    await tick();
    await c.end(1); // done before its dependent arrives
    release();
    await tick();
    assert.deepEqual(c.started, [1, 2, 3, 5], 'op 3 runs at once, op 4 waits for op 2');
    await c.end(2);
    assert.deepEqual(c.started, [1, 2, 3, 5, 4]);
    for (const id of [3, 4, 5]) await c.end(id);
    assert.deepEqual(ids((await running).done), [1, 2, 3, 4, 5]);
  });

  it('skips an op of a later batch whose dependency already failed', async () => {
    async function* feed() {
      yield [op(1)];
      await tick();
      yield [op(2, [1]), op(3)];
    }
    const report = await new Executor(4).execute(feed(), async (o) => (o.id === 1 ? { status: 'retry-later', reason: 'changed' } : { status: 'done' }));
    assert.deepEqual(ids(report.retryLater), [1]);
    assert.deepEqual(ids(report.skipped), [2]);
    assert.deepEqual(ids(report.done), [3]);
  });

  it('a target that goes down closes the feed, and nothing more starts', async () => {
    let closed = false;
    let batches = 0;
    async function* feed() {
      try {
        for (let b = 0; b < 100; b++) {
          batches++;
          yield [op(b * 2 + 1), op(b * 2 + 2)];
          await tick();
        }
      } finally {
        closed = true;
      }
    }
    const down = new Error('gone');
    const report = await new Executor(1).execute(feed(), async (o) => (o.id === 1 ? { status: 'target-down', error: down } : { status: 'done' }));
    assert.equal(report.targetError, down);
    assert.ok(closed, 'the feed was closed');
    assert.ok(batches < 100, `the feed stopped early (${batches} batches read)`);
    assert.equal(report.done.length, 0);
    assert.ok(report.skipped.some((o) => o.id === 2), 'what was admitted but not run is skipped');
  });

  it('a feed that fails lets running ops finish, then rejects with its error', async () => {
    const c = controlled();
    async function* feed() {
      yield [op(1), op(2, [1])];
      await tick();
      throw new Error('scan failed');
    }
    const running = new Executor(4).execute(feed(), c.run);
    let settled = false;
    running.catch(() => undefined).finally(() => (settled = true));
    await tick();
    await tick();
    assert.equal(settled, false, 'op 1 is still running');
    await c.end(1);
    await assert.rejects(running, /scan failed/);
    assert.deepEqual(c.started, [1], 'nothing started after the failure');
  });

  it('runs an op after the ops it names in `after` have ended, whichever way', async () => {
    const c = controlled();
    // 4 waits for 1 to succeed, and for 2 and 3 to end; 3 waits for 2 to succeed.
    const running = new Executor(4).execute([op(1), op(2), op(3, [2]), op(4, [1], [2, 3])], c.run);
    await tick();
    assert.deepEqual(c.started, [1, 2]);
    await c.end(1);
    assert.deepEqual(c.started, [1, 2], 'op 4 still waits for 2 and 3');
    await c.end(2, { status: 'failed', error: new Error('no') });
    // 3 is skipped (its dependency failed); that ends it, so 4 runs.
    assert.deepEqual(c.started, [1, 2, 4]);
    await c.end(4);
    const report = await running;
    assert.deepEqual(ids(report.done), [1, 4]);
    assert.deepEqual(ids(report.skipped), [3]);
    assert.deepEqual(ids(report.failed.map((f) => f.op)), [2]);
  });

  it('skips an op whose `deps` did not succeed even when its `after` ops did', async () => {
    const report = await new Executor(4).execute([op(1), op(2), op(3, [1], [2])], async (o) => (o.id === 1 ? { status: 'retry-later', reason: 'x' } : { status: 'done' }));
    assert.deepEqual(ids(report.skipped), [3]);
    assert.deepEqual(ids(report.done), [2]);
  });

  it('takes `after` ops that ended in an earlier batch as ended', async () => {
    async function* feed() {
      yield [op(1)];
      await tick();
      await tick();
      yield [op(2, [], [1])];
    }
    const report = await new Executor(4).execute(feed(), async (o) => (o.id === 1 ? { status: 'failed', error: new Error('no') } : { status: 'done' }));
    assert.deepEqual(ids(report.done), [2]);
  });
});
