/**
 * SHA-256 of a local file, hex. Files up to SYNC_READ_LIMIT are read whole with one
 * synchronous call: the racy-timestamp check hashes every file a burst just wrote, and a
 * stream per small file (open, read, close through the thread pool, plus the stream
 * machinery) cost several times the read itself. Larger files are streamed.
 * Rejects with the fs error (ENOENT, EACCES, …) for the caller to judge. `abs` is an internal
 * path: a name that is not valid UTF-8 is opened by its bytes (core/names.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { toFsPath } from '../core/names.ts';

const SYNC_READ_LIMIT = 1024 * 1024;

export async function hashFile(path: string, sizeHint?: number): Promise<string> {
  const abs = toFsPath(path);
  const size = sizeHint ?? statSync(abs).size;
  if (size <= SYNC_READ_LIMIT) return createHash('sha256').update(readFileSync(abs)).digest('hex');
  const h = createHash('sha256');
  await pipeline(createReadStream(abs), h);
  return h.digest('hex');
}
