/**
 * One upload on one SFTP session. Requests are pipelined on the channel:
 *   OPEN → [WRITE… FSETSTAT(mtime) CLOSE, sent back to back] → posix-rename
 * i.e. three round trips whatever the size; big files stream through a window of parallel
 * WRITEs at increasing offsets (fastPut's method, fed from the source stream), at most
 * SFTP_DEFAULTS.writeWindow bytes in flight. A failure closes and removes the temp file (best
 * effort: the engine also journals temp names) and is named by looking at the server, since
 * SFTP v3 answers "Failure" for many causes.
 */
import type { Readable } from 'node:stream';
import { quotePath } from '../../core/names.ts';
import { TargetError } from '../errors.ts';
import type { PutSource } from '../target.ts';
import { wirePath } from './byte-names.ts';
import type { SftpSession } from './sftp-session.ts';
import { kindOf, lstatRaw, renameOver } from './remote-ops.ts';
import { SFTP_DEFAULTS } from './sftp-settings.ts';
import { isFailure, translateSftpError } from './translate-error.ts';

export async function upload(s: SftpSession, path: string, finalAbs: string, tempAbs: string, source: PutSource): Promise<void> {
  // Start reading the source while OPEN is in flight. A file the engine already read whole
  // is one chunk: no stream to set up and tear down per small file.
  const stream: Readable | undefined = source.buffer === undefined ? source.open() : undefined;
  const chunks = stream ? (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]() : oneChunk(source.buffer!);
  const opening = s.request<Buffer>('open', (sftp, cb) => sftp.open(wirePath(tempAbs), 'w', { mode: 0o644 }, cb));
  opening.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
  let handle: Buffer | undefined; // set while the temp file is open
  let opened = false;
  let firstError: unknown;
  let stage = 'open';
  const inflight = new Set<Promise<void>>();
  let inflightBytes = 0;
  let position = 0;
  /** Issue-and-forget: the first failure is kept, the rest of the pipeline drains. */
  const track = (p: Promise<void>, bytes: number): void => {
    inflightBytes += bytes;
    const t = p.then(
      () => {
        inflightBytes -= bytes;
      },
      (err: unknown) => {
        inflightBytes -= bytes;
        firstError ??= err;
      },
    );
    inflight.add(t);
    void t.finally(() => inflight.delete(t));
  };
  try {
    for (;;) {
      let next: IteratorResult<Buffer | string>;
      try {
        next = await chunks.next();
      } catch (err) {
        // The local source failed (vanished, unreadable): not the server's fault.
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw new TargetError('E_NOT_FOUND', `put ${quotePath(path)}: reading the local source failed (${code}); the path will be looked at again`, { path, cause: err });
      }
      if (next.done) break;
      const buf = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      if (handle === undefined) {
        handle = await opening;
        opened = true;
        stage = 'write';
      }
      if (firstError !== undefined) break;
      const h = handle;
      for (let off = 0; off < buf.length; off += s.maxWriteLen) {
        const part = buf.subarray(off, off + s.maxWriteLen);
        const at = position;
        position += part.length;
        track(s.request('write', (sftp, cb) => sftp.write(h, part, 0, part.length, at, cb)), part.length);
      }
      // Bounded memory: wait while too many bytes are on the wire.
      while (inflightBytes > SFTP_DEFAULTS.writeWindow && firstError === undefined) await Promise.race(inflight);
    }
    if (handle === undefined) {
      handle = await opening; // a zero-byte file never enters the loop
      opened = true;
    }
    const h = handle;
    if (firstError === undefined) {
      // Sent behind the writes without waiting for them: OpenSSH handles a channel's
      // requests in order, and the protocol requires it for requests on one handle.
      stage = 'set mtime';
      const seconds = Math.floor(source.mtimeMs / 1000);
      track(s.request('futimes', (sftp, cb) => sftp.futimes(h, seconds, seconds, cb)), 0);
    }
    handle = undefined;
    const closing = s.request('close', (sftp, cb) => sftp.close(h, cb));
    closing.catch(() => undefined); // awaited below, after the writes
    await Promise.all(inflight);
    try {
      await closing;
    } catch (err) {
      firstError ??= err;
    }
    if (firstError !== undefined) throw firstError;
    stage = 'rename';
    if (tempAbs !== finalAbs) await renameOver(s, tempAbs, finalAbs);
  } catch (err) {
    stream?.destroy();
    await Promise.all(inflight);
    if (!opened) {
      // The source failed before OPEN answered: close the handle if it still arrives.
      handle = await opening.then(
        (h) => ((opened = true), h),
        () => undefined,
      );
    }
    if (handle !== undefined) {
      const h = handle;
      await s.request('close', (sftp, cb) => sftp.close(h, cb)).catch(() => undefined);
    }
    const translated = await explainPutFailure(s, err, stage, path, tempAbs, finalAbs);
    // Best effort: the engine also journals temp paths and cleans them at start.
    if (opened && !s.closed) await s.request('remove temp', (sftp, cb) => sftp.unlink(wirePath(tempAbs), cb)).catch(() => undefined);
    throw translated;
  }
}

/** SFTP v3 says "Failure" for EEXIST, EISDIR, ENOSPC …: look before naming the error. */
async function explainPutFailure(s: SftpSession, err: unknown, stage: string, path: string, tempAbs: string, finalAbs: string): Promise<TargetError> {
  if (err instanceof TargetError || !isFailure(err) || s.closed) return translateSftpError(err, `put (${stage})`, path);
  try {
    if (stage === 'open' || stage === 'rename') {
      const st = await lstatRaw(s, stage === 'open' ? tempAbs : finalAbs, 'put', path);
      if (st !== undefined && kindOf(st.mode) === 'dir') return translateSftpError(err, `put (${stage}): a directory is in the way`, path, 'E_EXISTS');
    }
    if ((stage === 'write' || stage === 'set mtime') && s.ext.statvfs) {
      const dir = tempAbs.includes('/') ? tempAbs.slice(0, tempAbs.lastIndexOf('/')) || '/' : '.';
      const vfs = await s.request<{ f_bavail: number | bigint; f_frsize: number | bigint }>('statvfs', (sftp, cb) => sftp.ext_openssh_statvfs(wirePath(dir), cb));
      const free = Number(vfs.f_bavail) * Number(vfs.f_frsize);
      if (free < 1024 * 1024) return translateSftpError(err, `put (${stage}): only ${free} bytes free on the server`, path, 'E_NO_SPACE');
    }
  } catch {
    // Looking failed too: report the original error.
  }
  return translateSftpError(err, `put (${stage})`, path);
}

/** An async iterator over a single buffer (the shape of a stream's chunks). */
function oneChunk(buffer: Buffer): AsyncIterator<Buffer> {
  let given = false;
  return {
    next: async () => {
      if (given) return { done: true, value: undefined };
      given = true;
      return { done: false, value: buffer };
    },
  };
}
