/**
 * Cheaper random padding for ssh2. Every SSH packet carries 4–19 bytes of random padding,
 * which ssh2 fills with `crypto.randomFillSync` — one call per packet, about 50,000 for a
 * 10,000-file push, each costing microseconds of Node overhead (a job object, argument
 * checks) for a handful of bytes: a tenth of that push's CPU.
 *
 * This module, imported before ssh2 is first loaded (ssh2 keeps its own reference to the
 * function it finds then), replaces `randomFillSync` with a pooled variant: the same CSPRNG
 * bytes, drawn 64 KiB at a time, each handed out once. Calls for more than 256 bytes or for
 * anything but a Buffer go to the original, so other users see no difference.
 */
import crypto from 'node:crypto';

const POOL_SIZE = 64 * 1024;
const POOLED_MAX = 256;

const original = crypto.randomFillSync;
let pool = Buffer.alloc(0);
let used = 0;

function pooledRandomFillSync<T extends NodeJS.ArrayBufferView>(buf: T, offset?: number, size?: number): T {
  if (!Buffer.isBuffer(buf)) return original(buf, offset, size);
  const start = offset ?? 0;
  const length = size ?? buf.length - start;
  if (length > POOLED_MAX || start < 0 || length < 0 || start + length > buf.length) return original(buf, offset, size);
  if (used + length > pool.length) {
    pool = original(Buffer.allocUnsafe(POOL_SIZE));
    used = 0;
  }
  pool.copy(buf, start, used, used + length);
  used += length; // never hands out the same bytes twice

  return buf;
}

crypto.randomFillSync = pooledRandomFillSync as typeof crypto.randomFillSync;
