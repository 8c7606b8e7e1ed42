/**
 * Bandwidth limit of one target (`bwlimit`, README: Bandwidth limits): one shared budget that
 * every upload stream of the target passes through, whatever its connection, so the limit
 * holds for the target as a whole. Wrapping the PutSource (throttledSource) covers every
 * backend without touching any: they all read the bytes they send from `open()`.
 *
 * The budget is a virtual clock (GCRA, the token bucket's equivalent): each piece of `n`
 * bytes is booked `n / rate` seconds after the previous booking, and released when its time
 * comes. Bookings are made in the order pieces arrive, so concurrent streams share the rate.
 * An idle target may send BURST_MS worth of bytes at once; over T seconds at most
 * rate × (T + BURST_MS) bytes pass. The rate is looked up at each booking (a timetable
 * changes it during a transfer).
 */
import { Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { rateAt, type BwSchedule, type Rate } from '../core/bwlimit.ts';
import type { PutSource } from './target.ts';

/** What an idle target may send at once, in ms of its rate. */
const BURST_MS = 50;
/** Largest piece booked at once: a finer grain keeps streams interleaved and the rate smooth. */
const MAX_PIECE = 16 * 1024;

export class Throttle {
  /** When the last booked byte may leave (ms, the clock's); -Infinity: idle. */
  private tat = -Infinity;

  constructor(
    private readonly rate: () => Rate,
    private readonly now: () => number = Date.now,
  ) {}

  /** A throttle following a timetable in local time. */
  static forSchedule(schedule: BwSchedule, now: () => number = Date.now): Throttle {
    return new Throttle(() => {
      const d = new Date(now());
      return rateAt(schedule, d.getHours() * 60 + d.getMinutes());
    }, now);
  }

  /** The piece size for the rate in force (at most 1/20 s of it, at least 1 KiB). */
  pieceSize(): number {
    const r = this.rate();
    return r === undefined ? MAX_PIECE : Math.max(1024, Math.min(MAX_PIECE, Math.floor(r / 20)));
  }

  /** Books `n` bytes; returns how long to wait before sending them (0: now). */
  reserve(n: number): number {
    const r = this.rate();
    const now = this.now();
    if (r === undefined) {
      this.tat = -Infinity;
      return 0;
    }
    this.tat = Math.max(this.tat, now - BURST_MS) + (n * 1000) / r;
    return Math.max(0, this.tat - now);
  }

  /** A stream that lets `input`'s bytes through at the throttle's pace. */
  wrap(input: Readable): Readable {
    const pieceSize = () => this.pieceSize();
    const reserve = (n: number) => this.reserve(n);
    const out = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        void (async () => {
          for (let off = 0; off < chunk.length; ) {
            const piece = chunk.subarray(off, off + pieceSize());
            off += piece.length;
            const wait = reserve(piece.length);
            if (wait > 0) await sleep(wait);
            if (out.destroyed) return;
            out.push(piece);
          }
        })().then(() => done(), done);
      },
    });
    input.on('error', (err) => out.destroy(err));
    return input.pipe(out);
  }
}

/**
 * The same source, its bytes through `throttle`. The whole-file buffer is left out, so every
 * backend reads through `open()`; a sparse file's holes still pass as zeros it may skip.
 */
export function throttledSource(source: PutSource, throttle: Throttle): PutSource {
  return {
    size: source.size,
    mtimeMs: source.mtimeMs,
    ...(source.sparse ? { sparse: true } : {}),
    open: () => throttle.wrap(source.open()),
  };
}
