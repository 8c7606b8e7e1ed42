import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EntryKind } from '../core/entry.ts';
import { isTargetError } from './errors.ts';
import { settleRefusal, verdictAfterRefusal, type IdempotentOp } from './refusal.ts';

describe('verdictAfterRefusal: the server said no, what is there decides', () => {
  const table: [IdempotentOp, EntryKind | undefined, ReturnType<typeof verdictAfterRefusal>][] = [
    ['mkdir', 'dir', 'done'],
    ['mkdir', 'file', 'in-the-way'],
    ['mkdir', 'symlink', 'in-the-way'],
    ['mkdir', undefined, 'refused'],
    ['remove', undefined, 'done'],
    ['remove', 'dir', 'in-the-way'],
    ['remove', 'file', 'refused'],
    ['remove', 'symlink', 'refused'],
    ['rmdir', undefined, 'done'],
    ['rmdir', 'dir', 'refused'],
    ['rmdir', 'file', 'refused'],
  ];
  for (const [op, there, want] of table) it(`${op}, ${there ?? 'nothing'} there: ${want}`, () => assert.equal(verdictAfterRefusal(op, there), want));
});

describe('settleRefusal', () => {
  const refusal = () => new Error('refused by the server');
  it('resolves when the work is done after all', async () => {
    await settleRefusal({ op: 'mkdir', path: 'd', kindAt: async () => 'dir', refusal });
  });
  it('names what is in the way (E_EXISTS), or the backend says it its way', async () => {
    await assert.rejects(settleRefusal({ op: 'mkdir', path: 'd', kindAt: async () => 'file', refusal }), (e: unknown) => isTargetError(e) && e.code === 'E_EXISTS' && /a file is in the way/.test(e.message));
    await assert.rejects(settleRefusal({ op: 'mkdir', path: 'd', kindAt: async () => 'symlink', refusal, inTheWay: () => new Error('own') }), /own/);
  });
  it('the refusal stands when the path does not show the work done', async () => {
    await assert.rejects(settleRefusal({ op: 'remove', path: 'f', kindAt: async () => 'file', refusal }), /refused by the server/);
  });
  it('a failure to look propagates', async () => {
    await assert.rejects(
      settleRefusal({
        op: 'rmdir',
        path: 'd',
        kindAt: async () => {
          throw new Error('connection lost');
        },
        refusal,
      }),
      /connection lost/,
    );
  });
});
