/**
 * "The server said no: does the path exist?" An idempotent call (mkdir, remove, rmdir) that
 * the server refused may have found its work already done: a directory already there, a file
 * already gone. Many servers answer such a case with a generic refusal (WebDAV 405/409/400,
 * EEXIST, FTP 550). Looking at the path decides it, in one place for every backend:
 *
 *   mkdir   a directory is there: done; something else is there: E_EXISTS; nothing: refused
 *   remove  nothing is there: done; a directory is there: E_EXISTS; else: refused
 *   rmdir   nothing is there: done; else: refused
 */
import type { EntryKind } from '../core/entry.ts';
import { TargetError } from './errors.ts';

export type IdempotentOp = 'mkdir' | 'remove' | 'rmdir';

/** The verdict, as data (table-tested): done, something in the way, or the refusal stands. */
export function verdictAfterRefusal(op: IdempotentOp, there: EntryKind | undefined): 'done' | 'in-the-way' | 'refused' {
  switch (op) {
    case 'mkdir':
      return there === 'dir' ? 'done' : there === undefined ? 'refused' : 'in-the-way';
    case 'remove':
      return there === undefined ? 'done' : there === 'dir' ? 'in-the-way' : 'refused';
    case 'rmdir':
      return there === undefined ? 'done' : 'refused';
  }
}

export interface RefusalCheck {
  readonly op: IdempotentOp;
  readonly path: string;
  /** What is at `path` now (undefined: nothing); its errors propagate. */
  readonly kindAt: () => Promise<EntryKind | undefined>;
  /** The error the refusal means when the path does not show the work done. */
  readonly refusal: () => Error | Promise<Error>;
  /** A backend's own error for what is in the way (default: E_EXISTS naming it). */
  readonly inTheWay?: (there: EntryKind) => Error;
}

/** Resolves when the refused call's work is done after all, else rejects (see the header). */
export async function settleRefusal(c: RefusalCheck): Promise<void> {
  const there = await c.kindAt();
  const verdict = verdictAfterRefusal(c.op, there);
  if (verdict === 'done') return;
  if (verdict === 'in-the-way' && there !== undefined) {
    throw c.inTheWay?.(there) ?? new TargetError('E_EXISTS', `${c.op} ${JSON.stringify(c.path)}: a ${there === 'dir' ? 'directory' : there === 'file' ? 'file' : 'symbolic link'} is in the way`, { path: c.path });
  }
  throw await c.refusal();
}
