import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PutOp } from '../core/ops.ts';
import { isTempName } from '../core/temp-name.ts';
import { TempReservations, type TempRow } from './temp-journal.ts';

let nextId = 1;
function put(path: string): PutOp {
  return { id: nextId++, deps: [], kind: 'put', path, entry: { path, kind: 'file', size: 1, mtimeMs: 1, ino: '1' } };
}

function journalled(): { commits: TempRow[][]; journal: (rows: readonly TempRow[]) => Promise<void> } {
  const commits: TempRow[][] = [];
  return { commits, journal: async (rows) => void commits.push([...rows]) };
}

function reservations(planned: readonly PutOp[], journal: (rows: readonly TempRow[]) => Promise<void>, window?: number): TempReservations {
  const temps = new TempReservations(journal, window);
  temps.plan(planned);
  return temps;
}

describe('temp reservations', () => {
  it('uploads planned in a later batch are journalled in windows too', async () => {
    const first = ['a/1', 'a/2'].map(put);
    const later = ['b/3', 'b/4', 'b/5'].map(put);
    const j = journalled();
    const temps = reservations(first, j.journal, 3);
    await temps.reserve(first[0]!);
    temps.plan(later);
    await temps.reserve(first[1]!);
    await temps.reserve(later[0]!);
    await temps.reserve(later[1]!);
    assert.deepEqual(
      j.commits.map((rows) => rows.map((r) => r.finalPath)),
      [['a/1', 'a/2'], ['b/3', 'b/4', 'b/5']],
    );
  });

  it('the first upload of a window journals the next ones in the same commit', async () => {
    const ops = ['a/1', 'a/2', 'a/3', 'b/4', 'b/5'].map(put);
    const j = journalled();
    const temps = reservations(ops, j.journal, 3);
    const t1 = await temps.reserve(ops[0]!);
    const t2 = await temps.reserve(ops[1]!);
    assert.equal(j.commits.length, 1);
    assert.deepEqual(
      j.commits[0]!.map((r) => r.finalPath),
      ['a/1', 'a/2', 'a/3'],
    );
    assert.equal(j.commits[0]![0]!.tempPath, t1);
    assert.equal(j.commits[0]![1]!.tempPath, t2);
    await temps.reserve(ops[3]!);
    assert.equal(j.commits.length, 2, 'leaving the window journals the next one');
    assert.deepEqual(
      j.commits[1]!.map((r) => r.finalPath),
      ['b/4', 'b/5'],
    );
  });

  it('temp names sit next to their file and are recognisable', async () => {
    const op = put('dir/page.html');
    const temps = reservations([op], journalled().journal);
    const t = await temps.reserve(op);
    assert.ok(t.startsWith('dir/'));
    assert.ok(isTempName(t.slice('dir/'.length)));
  });

  it('uploads that never started are handed back; started ones are not', async () => {
    const ops = ['1', '2', '3', '4'].map(put);
    const temps = reservations(ops, journalled().journal, 4);
    const t1 = await temps.reserve(ops[0]!);
    const rest = temps.unstarted();
    assert.equal(rest.length, 3);
    assert.ok(!rest.includes(t1));
  });

  it('an upload outside the plan, or started out of order, still gets a journalled name once', async () => {
    const ops = ['1', '2', '3'].map(put);
    const j = journalled();
    const temps = reservations(ops, j.journal, 2);
    const stray = put('stray');
    await temps.reserve(stray);
    await temps.reserve(ops[2]!); // started out of order
    const all = j.commits.flat().map((r) => r.finalPath);
    assert.equal(new Set(all).size, all.length, 'no path journalled twice');
    assert.ok(all.includes('stray') && all.includes('3'));
    // A retry of the same upload reuses its name without another commit.
    const before = j.commits.length;
    await temps.reserve(ops[2]!);
    assert.equal(j.commits.length, before);
  });

  it('a failed journal commit fails the reservation', async () => {
    const op = put('x');
    const temps = reservations([op], () => Promise.reject(new Error('disk full')));
    await assert.rejects(temps.reserve(op), /disk full/);
  });
});
