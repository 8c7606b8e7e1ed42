import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import './padding-random.ts';

describe('pooled randomFillSync (ssh2 packet padding)', () => {
  it('fills exactly the requested range and leaves the rest alone', () => {
    const buf = Buffer.alloc(32, 0xaa);
    crypto.randomFillSync(buf, 8, 12);
    assert.ok(buf.subarray(0, 8).every((b) => b === 0xaa));
    assert.ok(buf.subarray(20).every((b) => b === 0xaa));
  });

  it('never hands out the same bytes twice', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.alloc(16);
      crypto.randomFillSync(b, 0, 16);
      const hex = b.toString('hex');
      assert.ok(!seen.has(hex), 'repeated 16 random bytes');
      seen.add(hex);
    }
  });

  it('large requests and typed arrays still work (the original function)', () => {
    const big = Buffer.alloc(4096);
    crypto.randomFillSync(big);
    assert.ok(big.some((b) => b !== 0));
    const u32 = new Uint32Array(8);
    crypto.randomFillSync(u32);
    assert.ok(u32.some((v) => v !== 0));
    assert.throws(() => crypto.randomFillSync(Buffer.alloc(4), 2, 8), RangeError);
  });
});
