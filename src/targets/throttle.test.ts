/**
 * The throttle's bookings on a fake clock (the arithmetic), and one real stream checked
 * loosely against the wall clock.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Throttle } from './throttle.ts';

describe('Throttle', () => {
  it('books pieces back to back at the rate, after a burst of 50 ms', () => {
    let now = 10_000;
    const t = new Throttle(() => 1000, () => now); // 1000 B/s
    assert.equal(t.reserve(50), 0, 'an idle target may send 50 ms of its rate at once');
    assert.equal(t.reserve(100), 100);
    assert.equal(t.reserve(100), 200);
    now += 200;
    assert.equal(t.reserve(100), 100);
  });
  it('two streams share one budget: the total rate holds, not each one', () => {
    let now = 0;
    const t = new Throttle(() => 10_000, () => now);
    let booked = 0;
    let lastWait = 0;
    for (let i = 0; i < 100; i++) {
      lastWait = t.reserve(1000); // stream A
      lastWait = Math.max(lastWait, t.reserve(1000)); // stream B
      booked += 2000;
    }
    // 200,000 bytes at 10,000 B/s: the last piece leaves 20 s in, less the 50 ms burst.
    assert.equal(booked, 200_000);
    assert.equal(Math.round(lastWait), 19_950);
    now = 60_000;
    assert.equal(t.reserve(100), 0, 'idle again: no debt carried');
  });
  it('off (no rate) never waits, and a change of rate applies at the next booking', () => {
    let rate: number | undefined;
    const t = new Throttle(() => rate, () => 0);
    assert.equal(t.reserve(1e9), 0);
    rate = 1000;
    assert.equal(t.reserve(1050), 1000);
    assert.equal(t.pieceSize(), 1024);
    rate = 1024 * 1024 * 100;
    assert.equal(t.pieceSize(), 16 * 1024);
  });
  it('a wrapped stream passes every byte, no faster than the rate (loosely: +10 %)', async () => {
    const rate = 256 * 1024;
    const t = new Throttle(() => rate);
    const data = Buffer.alloc(128 * 1024, 7);
    const started = Date.now();
    const chunks: Buffer[] = [];
    for await (const c of t.wrap(Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]))) chunks.push(c as Buffer);
    const elapsed = (Date.now() - started) / 1000;
    assert.ok(Buffer.concat(chunks).equals(data));
    const minimum = (data.length - rate * 0.05) / rate; // 0.45 s: the burst goes at once
    assert.ok(elapsed >= minimum / 1.1, `128 KiB at 256 KiB/s took ${elapsed} s, expected at least ${minimum.toFixed(2)} s`);
  });
  it('an error of the source reaches the reader', async () => {
    const t = new Throttle(() => 1e6);
    const src = new Readable({ read() {} });
    const out = t.wrap(src);
    src.destroy(new Error('boom'));
    await assert.rejects(async () => {
      for await (const _ of out) void _;
    }, /boom/);
  });
});
