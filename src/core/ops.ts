/**
 * The operations a plan is made of. Each names the path it acts on (as the target will see it
 * when the operation runs: after the renames it depends on) and the ids of operations that
 * must finish first.
 */
import type { KnownEntry, LocalEntry } from './entry.ts';
import { quotePath } from './names.ts';

interface OpBase {
  readonly id: number;
  readonly path: string;
  /** Ops that must succeed first; if one does not, this op is skipped. */
  deps: number[];
  /** Ops that must have ended first, whatever their outcome (see PublishOp). */
  readonly after?: readonly number[];
}

/**
 * Creates a directory. `staged`: under a temp name in its parent instead, so that its files
 * can be written in place inside it, unseen; a PublishOp then renames it to `path`.
 */
export interface MkdirOp extends OpBase { readonly kind: 'mkdir'; readonly entry: LocalEntry; readonly staged?: true }
/**
 * Sends one file. `stagedIn`: the (final) path of the staged directory it goes into; it is
 * then written in place inside that directory's temp name, without a temp name of its own.
 */
export interface PutOp extends OpBase { readonly kind: 'put'; readonly entry: LocalEntry; readonly stagedIn?: string }
/**
 * Makes a staged directory visible: renames its temp name to `path` once its puts (`after`)
 * have ended. When one of them failed, the staged directory is removed instead and `path` is
 * looked at again (nothing half-sent becomes visible).
 */
export interface PublishOp extends OpBase { readonly kind: 'publish'; readonly entry: LocalEntry; readonly after: readonly number[] }
export interface SymlinkOp extends OpBase { readonly kind: 'symlink'; readonly entry: LocalEntry }
/** Moves `from` (and everything under it) to `path`; `entry` is the source at the destination. */
export interface RenameOp extends OpBase { readonly kind: 'rename'; readonly from: string; readonly entry: LocalEntry }
/** Removes one file or symlink the store knows. */
export interface RemoveOp extends OpBase { readonly kind: 'remove'; readonly known: KnownEntry }
/**
 * Removes a directory. Non-recursive unless `recursive`: then one call removes the whole tree
 * (and `count` known entries with it).
 */
export interface RmdirOp extends OpBase { readonly kind: 'rmdir'; readonly recursive: boolean; readonly count: number }

export type Op = MkdirOp | PutOp | SymlinkOp | RenameOp | RemoveOp | RmdirOp | PublishOp;
export type OpKind = Op['kind'];

/** A path the plan could not handle, as data (Mutagen's habit): reported, never thrown. */
export interface Problem {
  readonly path: string;
  readonly code: 'SYMLINK_UNSUPPORTED' | 'SPECIAL_FILE' | 'UNREADABLE' | 'UNSAFE_NAME';
  readonly message: string;
}

/** How many known entries the plan removes (what `maxDelete` limits). */
export function countRemovals(ops: readonly Op[]): number {
  let n = 0;
  for (const op of ops) {
    if (op.kind === 'remove') n++;
    else if (op.kind === 'rmdir') n += op.recursive ? op.count : 1;
  }
  return n;
}

export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'rename':
      return `rename ${quotePath(op.from)} -> ${quotePath(op.path)}`;
    case 'rmdir':
      return `rmdir${op.recursive ? ' -r' : ''} ${quotePath(op.path)}`;
    case 'mkdir':
      return `mkdir ${quotePath(op.path)}${op.staged ? ' (staged)' : ''}`;
    case 'publish':
      return `publish ${quotePath(op.path)} (${op.after.length} files)`;
    default:
      return `${op.kind} ${quotePath(op.path)}`;
  }
}
