/**
 * Recursive remove and mkdir-parents built on the contract's single-level calls, for a
 * backend without a native one: `rmdir(path, { recursive: true })` may be
 * `removeTree(this, path)`, and a root or a deep path may be made with `mkdirParents`.
 * (local, WebDAV and S3 have native ones: fs.rm, DELETE with Depth: infinity, a batch
 * delete; FTP and SFTP walk on one session of their pool, in ftp/ and sftp/, and may adopt
 * these once the pool hands out a session-bound view.)
 */
import { parentOf } from '../core/paths.ts';
import { isTargetError, TargetError } from './errors.ts';
import type { Target } from './target.ts';

export type TreeRemoval = Pick<Target, 'list' | 'remove' | 'rmdir'>;
export type TreeCreation = Pick<Target, 'stat' | 'mkdir'>;

/**
 * Removes `path` and everything under it: children first, each directory with a plain
 * (non-recursive) rmdir, `parallel` siblings at once. A path already gone resolves
 * (idempotent, as the contract's remove and rmdir). Never removes the target root.
 */
export async function removeTree(t: TreeRemoval, path: string, parallel = 1): Promise<void> {
  if (path === '') throw new TargetError('E_PERMISSION', 'refusing to remove the target root', { path });
  let children;
  try {
    children = await t.list(path);
  } catch (err) {
    if (isTargetError(err) && err.code === 'E_NOT_FOUND') return;
    throw err;
  }
  const queue = [...children];
  const worker = async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      if (c.kind === 'dir') await removeTree(t, c.path, parallel);
      else await t.remove(c.path);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, queue.length)) }, worker));
  await t.rmdir(path);
}

/**
 * Makes `path` a directory with any missing parents: looks upward for the deepest directory
 * that exists (one stat each), then creates downward. A file on the way rejects with E_EXISTS.
 */
export async function mkdirParents(t: TreeCreation, path: string): Promise<void> {
  const missing: string[] = [];
  for (let p = path; p !== ''; p = parentOf(p)) {
    const there = await t.stat(p);
    if (there?.kind === 'dir') break;
    if (there !== undefined) throw new TargetError('E_EXISTS', `mkdir ${JSON.stringify(path)}: ${JSON.stringify(p)} is a ${there.kind}, not a directory`, { path });
    missing.push(p);
  }
  for (const p of missing.reverse()) await t.mkdir(p);
}
