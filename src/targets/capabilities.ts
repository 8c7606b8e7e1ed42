/**
 * What a target can do, decided in one place. A capability that only says whether an
 * optional method exists (rename, symlinks, hash) is not declared: it follows from the method
 * (a backend that has `rename` renames). The declared capabilities (`Target.caps`) are the
 * ones a method's presence cannot tell: how a put keeps mtimes, how names and directories
 * behave. The engine, `check` and the conformance suite read capabilities through here.
 */
import type { Target, TargetCapabilities } from './target.ts';

export interface Capabilities extends TargetCapabilities {
  /** `rename` exists: it moves files and whole directories. */
  readonly rename: boolean;
  /** `symlink` exists. */
  readonly symlinks: boolean;
  /** `hash` exists: the SHA-256 of a remote file. */
  readonly hash: boolean;
}

export function capabilitiesOf(target: Pick<Target, 'caps' | 'rename' | 'symlink' | 'hash'>): Capabilities {
  return {
    ...target.caps,
    rename: typeof target.rename === 'function',
    symlinks: typeof target.symlink === 'function',
    hash: typeof target.hash === 'function',
  };
}
