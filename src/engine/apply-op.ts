/**
 * Carries out one planned operation on a target and commits its effect to the store. This is
 * where "events are hints" meets the remote: a put re-checks the file around the transfer
 * and records nothing if it changed meanwhile.
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { quotePath, toFsPath } from '../core/names.ts';
import { needsContentHash, uncertainFile, type KnownEntry, type LocalEntry } from '../core/entry.ts';
import type { Op, PutOp, RenameOp } from '../core/ops.ts';
import { parentOf } from '../core/paths.ts';
import { backoffDelay, OP_RETRY } from '../core/retry.ts';
import { TargetError } from '../targets/errors.ts';
import type { PutSource, Target } from '../targets/target.ts';
import { throttledSource, type Throttle } from '../targets/throttle.ts';
import type { GroupCommit } from '../state/group-commit.ts';
import type { Store } from '../state/store.ts';
import type { OpOutcome } from './executor.ts';
import { renameHappened, type MkdirIntents } from './intents.ts';
import type { StagedDirs } from './staged-dirs.ts';
import type { TempReservations } from './temp-journal.ts';

export interface ApplyContext {
  readonly sourceRoot: string;
  readonly target: Target;
  readonly store: Store;
  /** Batches this target's store writes from concurrent operations into one transaction. */
  readonly commits: GroupCommit;
  /** Journalled temp names for this plan's uploads. */
  readonly temps: TempReservations;
  /** This plan's staged directories (a first push's new directories of small files). */
  readonly staged: StagedDirs;
  /** Intents of this plan's mkdirs, committed before each is sent (intents.ts). */
  readonly intents: MkdirIntents;
  readonly targetId: number;
  readonly now: () => number;
  /** Called after each successful op (logging, counters). */
  readonly onApplied: (op: Op, bytes: number) => void;
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * Told at once when an op finds the target down (timed out, disk full, login refused), so
   * `status` shows it while the other ops in flight wind down; true once told, and then a
   * transient failure is not retried here (the engine retries the whole target).
   */
  readonly targetDown?: (err?: TargetError) => boolean;
  /** The target's bandwidth limit, when it has one: every upload's bytes pass through it. */
  readonly throttle?: Throttle;
}

const TRANSIENT_ATTEMPTS = 3;

export async function applyOp(ctx: ApplyContext, op: Op): Promise<OpOutcome> {
  const outcome = await applyWithRetries(ctx, op);
  // A file that failed inside a staged directory may have left part of itself there.
  if (op.kind === 'put' && op.stagedIn !== undefined && (outcome.status === 'failed' || outcome.status === 'target-down')) ctx.staged.spoil(op.stagedIn);
  return outcome;
}

async function applyWithRetries(ctx: ApplyContext, op: Op): Promise<OpOutcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await applyOnce(ctx, op);
    } catch (err) {
      if (!(err instanceof TargetError)) {
        return { status: 'failed', error: err instanceof Error ? err : new Error(String(err)) };
      }
      if (err.scope === 'transient' && attempt + 1 < TRANSIENT_ATTEMPTS && !ctx.targetDown?.()) {
        await ctx.sleep(backoffDelay(attempt, OP_RETRY));
        continue;
      }
      if (err.scope === 'path') {
        // Asking the target what is there can fail too: then the target is what failed.
        return handlePathError(ctx, op, err).catch((e: unknown) => ({ status: 'target-down' as const, error: e instanceof Error ? e : new Error(String(e)) }));
      }
      ctx.targetDown?.(err);
      return { status: 'target-down', error: err };
    }
  }
}

function record(ctx: ApplyContext, e: LocalEntry, hash?: string): void {
  ctx.store.upsert(ctx.targetId, knownEntry(ctx, e, hash));
}

function knownEntry(ctx: ApplyContext, e: LocalEntry, hash?: string): KnownEntry {
  return { ...e, recordedAtMs: ctx.now(), ...(hash !== undefined ? { hash } : {}) };
}

async function applyOnce(ctx: ApplyContext, op: Op): Promise<OpOutcome> {
  const { target, store, targetId, commits } = ctx;
  // Store changes go through writeNow: after the results still gathered (see sendAndRecord),
  // so the store sees operations in the order they finished.
  switch (op.kind) {
    case 'mkdir':
      if (op.staged) {
        await ctx.staged.create(op); // recorded when published
        break;
      }
      await ctx.intents.before(op);
      await target.mkdir(op.path);
      commits.writeNow(() => record(ctx, op.entry));
      break;
    case 'publish': {
      const outcome = await ctx.staged.publish(op, ctx.now());
      if (outcome.status === 'done') ctx.onApplied(op, 0);
      return outcome;
    }
    case 'put':
      return putFile(ctx, op);
    case 'symlink':
      if (!target.symlink) throw new TargetError('E_UNSUPPORTED', 'target cannot hold symlinks', { path: op.path });
      await target.symlink(op.path, op.entry.linkTarget ?? '');
      commits.writeNow(() => record(ctx, op.entry));
      break;
    case 'rename':
      if (!target.rename) throw new TargetError('E_UNSUPPORTED', 'target cannot rename', { path: op.path });
      // Journalled first: a crash or a lost reply leaves the store knowing both names.
      await commits.write(() => store.addRename(targetId, op.from, op.path));
      await target.rename(op.from, op.path);
      commits.writeNow(() => recordRename(ctx, op));
      break;
    case 'remove':
      await target.remove(op.path);
      commits.writeNow(() => store.delete(targetId, op.path));
      break;
    case 'rmdir':
      await target.rmdir(op.path, { recursive: op.recursive });
      commits.writeNow(() => (op.recursive ? store.deleteSubtree(targetId, op.path) : store.delete(targetId, op.path)));
      break;
  }
  ctx.onApplied(op, 0);
  return { status: 'done' };
}

/** A rename done: the records move with it and its journalled intent is forgotten. */
function recordRename(ctx: ApplyContext, op: RenameOp): void {
  const { store, targetId } = ctx;
  store.moveSubtree(targetId, op.from, op.path);
  const moved = store.get(targetId, op.path);
  // Keep the recorded hash and time: the bytes did not change, only the name.
  record(ctx, op.entry, moved?.hash);
  store.removeRename(targetId, op.path);
}

/** Files up to this size are read whole and handed over as one buffer. */
const WHOLE_FILE_LIMIT = 1024 * 1024;

/**
 * Sends one file and records what was sent, with its hash when the record would be racy
 * (needsContentHash). The file is lstat'ed again after the transfer: the same inode with the
 * same size and mtime is the file we read; anything else (rewritten, replaced by a rename,
 * removed) is not recorded and is looked at again.
 * Checking after the transfer rather than right after the read also lets a file that is
 * still being written settle, instead of sending it twice. Small files (most of any tree)
 * are read whole with synchronous calls: a few syscalls on a cached file cost less than one
 * trip through the thread pool.
 */
async function putFile(ctx: ApplyContext, op: PutOp): Promise<OpOutcome> {
  const abs = toFsPath(join(ctx.sourceRoot, op.path));
  if (op.entry.size <= WHOLE_FILE_LIMIT) {
    const read = readSmallFile(abs, op.entry);
    if ('status' in read) return read;
    const hash = needsContentHash(op.entry.mtimeMs, ctx.now()) ? createHash('sha256').update(read.buffer).digest('hex') : '';
    const source: PutSource = { size: read.buffer.length, mtimeMs: op.entry.mtimeMs, buffer: read.buffer, open: () => Readable.from([read.buffer]) };
    return sendAndRecord(ctx, op, source, () => stillAsPlanned(abs, op.entry), () => hash);
  }
  let fh;
  try {
    fh = await open(abs, 'r');
  } catch (err) {
    return unreadable(err);
  }
  try {
    let hash = '';
    const hashing = needsContentHash(op.entry.mtimeMs, ctx.now());
    const st = await fh.stat();
    /** Bytes that went through the stream (-1 until the target opens it). */
    let streamed = -1;
    const source: PutSource = {
      size: op.entry.size,
      mtimeMs: op.entry.mtimeMs,
      ...(st.blocks * 512 < st.size ? { sparse: true } : {}),
      open(): Readable {
        streamed = 0;
        // Hash inside transform(): a 'data' listener would switch the stream to flowing
        // mode and drop bytes emitted before the target starts reading.
        const h = hashing ? createHash('sha256') : undefined;
        const tap = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            h?.update(chunk);
            streamed += chunk.length;
            done(null, chunk);
          },
          flush(done) {
            hash = h?.digest('hex') ?? '';
            done();
          },
        });
        return fh.createReadStream({ start: 0, autoClose: false }).pipe(tap);
      },
    };
    // A backend that finished without reading every byte must not get the file recorded.
    return await sendAndRecord(ctx, op, source, () => stillAsPlanned(abs, op.entry) && streamed === op.entry.size, () => hash);
  } finally {
    await fh.close();
  }
}

/**
 * Journals the temp name, sends, then records the entry (or, when `unchanged()` says the file
 * moved on, records nothing and asks for another look) and forgets the temp in one commit.
 * The operation does not wait for that commit (GroupCommit.writeSoon: results gather into
 * one transaction per few hundred files); it is reported (onApplied) once committed, and
 * the cycle drains the commits before it ends.
 */
async function sendAndRecord(ctx: ApplyContext, op: PutOp, read: PutSource, unchanged: () => boolean, hashOf: () => string): Promise<OpOutcome> {
  const { store, targetId } = ctx;
  const source = ctx.throttle ? throttledSource(read, ctx.throttle) : read;
  let tempPath: string | undefined;
  if (op.stagedIn !== undefined) {
    // Written in place, inside a directory nobody sees under its name yet (staged-dirs.ts).
    await ctx.target.put(ctx.staged.pathOf(op.stagedIn, op.path), source, {});
  } else {
    tempPath = await ctx.temps.reserve(op);
    await ctx.target.put(op.path, source, { tempPath });
  }
  const forgetTemp = () => tempPath !== undefined && store.removeTemp(targetId, tempPath);
  if (!unchanged()) {
    // What was sent is on the target under its name now, and no longer what the source
    // holds (or the source file is gone): ours, content unknown. Without a record, a file
    // removed during its upload would stay on the target for good.
    ctx.commits
      .writeSoon(() => {
        forgetTemp();
        store.upsert(targetId, uncertainFile(op.path));
      })
      .catch(() => undefined);
    return { status: 'retry-later', reason: 'changed during upload' };
  }
  const known = knownEntry(ctx, op.entry, hashOf() || undefined);
  ctx.commits
    .writeSoon(() => {
      forgetTemp();
      store.upsert(targetId, known);
    })
    // A failed commit is reported by the cycle's drain(); the file is then sent again.
    .then(() => ctx.onApplied(op, op.entry.size), () => undefined);
  return { status: 'done' };
}

function unreadable(err: unknown): OpOutcome {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return { status: 'retry-later', reason: 'vanished before upload' };
  return { status: 'failed', error: new Error(`cannot read source file: ${code ?? String(err)}`) };
}

/** Reads a small file whole; a file shorter than planned is looked at again. */
function readSmallFile(abs: string | Buffer, planned: LocalEntry): { buffer: Buffer } | OpOutcome {
  let fd: number;
  try {
    fd = openSync(abs, 'r');
  } catch (err) {
    return unreadable(err);
  }
  try {
    const buffer = Buffer.allocUnsafe(planned.size);
    let got = 0;
    while (got < planned.size) {
      const n = readSync(fd, buffer, got, planned.size - got, got);
      if (n === 0) return { status: 'retry-later', reason: 'changed while reading' };
      got += n;
    }
    return { buffer };
  } catch (err) {
    return unreadable(err);
  } finally {
    closeSync(fd);
  }
}

/** lstat of the path after the transfer: the same inode, size and mtime as planned. */
function stillAsPlanned(abs: string | Buffer, planned: LocalEntry): boolean {
  try {
    const after = lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    return after !== undefined && sameAsPlanned(planned, after);
  } catch {
    return false; // ENOTDIR, EACCES: gone or changed; the next look decides
  }
}

function sameAsPlanned(e: LocalEntry, st: { size: bigint; mtimeNs: bigint; ino: bigint }): boolean {
  return Number(st.size) === e.size && Number(st.mtimeNs) / 1e6 === e.mtimeMs && st.ino.toString() === e.ino;
}

/**
 * A path-level failure. When the store was wrong about the target (someone removed a remote
 * directory behind our back), forget that part of the store so the next cycle recreates it;
 * the target is asked first, so nothing it still holds is forgotten. A vanished target root
 * is no path's problem: the whole target waits (E_ROOT_GONE) and is rebuilt when it is back.
 */
async function handlePathError(ctx: ApplyContext, op: Op, err: TargetError): Promise<OpOutcome> {
  const { target, store, targetId, commits } = ctx;
  const forgetIntent = () => op.kind === 'rename' && store.removeRename(targetId, op.path);
  if (err.code === 'E_NOT_FOUND') {
    if ((await target.stat('')) === undefined) {
      return { status: 'target-down', error: new TargetError('E_ROOT_GONE', `the target root of ${target.displayName} vanished`, { path: '', cause: err }) };
    }
    if (op.kind === 'rename') {
      if (await renameHappened(target, op.from, op.path, op.entry.kind)) {
        // An earlier attempt did it (its reply was lost).
        commits.writeNow(() => recordRename(ctx, op));
        ctx.onApplied(op, 0);
        return { status: 'done' };
      }
      // `from` gone: forget it (the path is sent again). Else the destination's parent is
      // missing: forget that instead, and keep the records of what is still at `from`.
      const fromThere = (await target.stat(op.from)) !== undefined;
      const stale = fromThere ? parentOf(op.path) : op.from;
      commits.writeNow(() => {
        forgetIntent();
        if (stale !== '') store.deleteSubtree(targetId, stale);
      });
      return { status: 'retry-later', reason: 'the target did not hold what the state store said: re-checking' };
    }
    if (op.kind === 'mkdir' || op.kind === 'put' || op.kind === 'symlink') {
      const parent = parentOf(op.path);
      if (parent !== '' && (await target.stat(parent))?.kind !== 'dir') {
        commits.writeNow(() => store.deleteSubtree(targetId, parent));
        return { status: 'retry-later', reason: 'the target did not hold what the state store said: re-checking' };
      }
    }
    return { status: 'failed', error: err };
  }
  return commits.writeNow(() => {
    forgetIntent();
    if (err.code === 'E_NOT_EMPTY' && op.kind === 'rmdir') {
      // Files we did not put there: leave them (deletes remove only what we sent) and forget the dir.
      store.delete(targetId, op.path);
      return { status: 'failed', error: new TargetError('E_NOT_EMPTY', `directory ${quotePath(op.path)} kept on the target: it holds files sync-inotify did not put there`, { path: op.path }) };
    }
    return { status: 'failed', error: err };
  });
}
