/**
 * Directories this target created or saw, so `mkdir` of one of them costs no round trip
 * (the planner and adoption ask for existing parents often). It is only a hint: entries under
 * a removed or renamed directory are forgotten, and a "not found" from the server about a
 * path forgets its parent chain, so a directory deleted behind our back is created again on
 * the next mkdir.
 */
import { isAtOrUnder } from '../../core/paths.ts';

export class KnownDirs {
  private readonly dirs = new Set<string>();

  has(path: string): boolean {
    return path === '' || this.dirs.has(path);
  }

  add(path: string): void {
    if (path !== '') this.dirs.add(path);
  }

  /** Forget `path` and everything under it. */
  forgetTree(path: string): void {
    for (const d of this.dirs) if (isAtOrUnder(d, path)) this.dirs.delete(d);
  }

  /** Forget `path` and all its ancestors (one of them may be gone). */
  forgetChain(path: string): void {
    for (let p = path; p !== ''; p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '') this.dirs.delete(p);
  }

  clear(): void {
    this.dirs.clear();
  }
}
