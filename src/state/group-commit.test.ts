import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KnownEntry } from '../core/entry.ts';
import { GroupCommit } from './group-commit.ts';
import { SqliteStore } from './sqlite-store.ts';

const e = (path: string): KnownEntry => ({ path, kind: 'file', size: 1, mtimeMs: 1, ino: '1', recordedAtMs: 1 });

/** A store whose transactions are counted. */
function countingStore(): { store: SqliteStore; transactions: () => number } {
  const store = new SqliteStore(':memory:');
  let n = 0;
  const inner = store.transaction.bind(store);
  store.transaction = <T>(fn: () => T): T => {
    n++;
    return inner(fn);
  };
  return { store, transactions: () => n };
}

describe('GroupCommit', () => {
  it('gathers writeSoon rows into one transaction, committed by drain()', async () => {
    const { store, transactions } = countingStore();
    const t = store.targetId('k');
    const commits = new GroupCommit(store, { soonDelayMs: 60_000, soonBatch: 1000 });
    let reported = 0;
    const done = Array.from({ length: 50 }, (_, i) => commits.writeSoon(() => store.upsert(t, e(`f${i}`))).then(() => reported++));
    assert.equal(store.count(t), 0, 'nothing committed before the delay, the batch size or drain');
    await commits.drain();
    assert.equal(reported, 50, 'reactions to the commits ran before drain() returned');
    await Promise.all(done);
    assert.equal(store.count(t), 50);
    assert.equal(transactions(), 1);
  });

  it('commits at once when the batch is full, and after the delay otherwise', async () => {
    const { store, transactions } = countingStore();
    const t = store.targetId('k');
    const commits = new GroupCommit(store, { soonDelayMs: 5, soonBatch: 3 });
    for (const p of ['a', 'b', 'c']) void commits.writeSoon(() => store.upsert(t, e(p)));
    assert.equal(store.count(t), 3, 'the third row filled the batch');
    const late = commits.writeSoon(() => store.upsert(t, e('d')));
    assert.equal(store.count(t), 3);
    await late;
    assert.equal(store.count(t), 4);
    assert.equal(transactions(), 2);
  });

  it('writeNow commits what was gathered first, in the same transaction (order kept)', async () => {
    const { store, transactions } = countingStore();
    const t = store.targetId('k');
    const commits = new GroupCommit(store, { soonDelayMs: 60_000 });
    const put = commits.writeSoon(() => store.upsert(t, e('dir/file')));
    commits.writeNow(() => store.deleteSubtree(t, 'dir'));
    await put;
    assert.equal(store.get(t, 'dir/file'), undefined, 'the later delete wins over the earlier result');
    assert.equal(transactions(), 1);
  });

  it('writeNow throws what its function throws, and the gathered rows roll back with it', async () => {
    const { store } = countingStore();
    const t = store.targetId('k');
    const commits = new GroupCommit(store, { soonDelayMs: 60_000 });
    const gathered = commits.writeSoon(() => store.upsert(t, e('f')));
    gathered.catch(() => undefined);
    assert.throws(
      () =>
        commits.writeNow(() => {
          throw new Error('store broke');
        }),
      /store broke/,
    );
    await assert.rejects(gathered, /store broke/);
    assert.equal(store.get(t, 'f'), undefined);
  });

  it('a failed commit rejects its writes and drain()', async () => {
    const { store } = countingStore();
    const commits = new GroupCommit(store, { soonDelayMs: 60_000 });
    const failing = commits.writeSoon(() => {
      throw new Error('disk full');
    });
    failing.catch(() => undefined);
    await assert.rejects(commits.drain(), /disk full/);
    await assert.rejects(failing, /disk full/);
    await commits.drain(); // reported once: the next drain has nothing to report
  });
});
