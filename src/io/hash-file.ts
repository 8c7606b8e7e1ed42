/**
 * SHA-256 of a local file, hex. Files up to SYNC_READ_LIMIT are read whole with one
 * synchronous call: the racy-timestamp check hashes every file a burst just wrote, and a
 * stream per small file (open, read, close through the thread pool, plus the stream
 * machinery) cost several times the read itself. Larger files are streamed.
 * Rejects with the fs error (ENOENT, EACCES, …) for the caller to judge. `abs` is an internal
 * path: a name that is not valid UTF-8 is opened by its bytes (core/names.ts).
 */
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, createReadStream, fstatSync, openSync, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { toFsPath } from '../core/names.ts';

const SYNC_READ_LIMIT = 1024 * 1024;

/** `noFollow`: a symbolic link at `abs` is refused (ELOOP) rather than read through. */
export async function hashFile(abs: string, sizeHint?: number, options: { noFollow?: boolean } = {}): Promise<string> {
  const fd = openSync(toFsPath(abs), fsc.O_RDONLY | (options.noFollow ? fsc.O_NOFOLLOW : 0));
  let streamed = false;
  try {
    const size = sizeHint ?? fstatSync(fd).size;
    if (size <= SYNC_READ_LIMIT) return createHash('sha256').update(readFileSync(fd)).digest('hex');
    const h = createHash('sha256');
    streamed = true; // the stream closes the descriptor
    await pipeline(createReadStream('', { fd }), h);
    return h.digest('hex');
  } finally {
    if (!streamed) closeSync(fd);
  }
}
