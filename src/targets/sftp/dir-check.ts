/**
 * The SFTP jail check (../jail.ts): before an operation acts in a directory below the root,
 * REALPATH of that directory must be the directory itself (the root was resolved at connect),
 * else E_LINK_IN_PATH naming the first link on the way. Why REALPATH per operation, not lstat
 * per segment once per session: one request whatever the depth, and no cache that would
 * trust a directory after a link was planted in its place (a daemon's session lives for
 * days, and directories we created are replaced as easily as any). Operations that start in
 * the same tick into the same directory share one request (TickShared: a push sends a
 * directory's files together).
 */
import { TargetError } from '../errors.ts';
import { linkInPathError, TickShared, underRoot } from '../jail.ts';
import { wirePath } from './byte-names.ts';
import type { SftpSession } from './sftp-session.ts';
import { kindOf, lstatRaw } from './remote-ops.ts';

export class DirChecks {
  /** Directory checks in flight per session, shared by the operations of one tick. */
  private readonly checks = new WeakMap<SftpSession, TickShared<string>>();

  /**
   * Rejects with E_LINK_IN_PATH unless `dir` and the directories above it up to the root are
   * real directories (see the header). `root` is the resolved root. A directory that is missing passes: the operation
   * fails (or, for a delete, succeeds) on its own, and nothing can be created through a link
   * that is not there, unless it is a dangling link, which is looked for then.
   */
  async check(s: SftpSession, root: string, dir: string, op: string, path: string): Promise<void> {
    if (dir === '') return;
    const expected = underRoot(root, dir);
    let shared = this.checks.get(s);
    if (shared === undefined) this.checks.set(s, (shared = new TickShared()));
    let resolved: string;
    try {
      resolved = await shared.get(expected, () => s.request<string>('realpath', (sftp, cb) => sftp.realpath(wirePath(expected), cb)));
    } catch (err) {
      if (err instanceof TargetError) throw err; // the connection, not the path
      const link = await this.firstLinkIn(s, root, dir, op, path);
      if (link !== undefined) throw linkInPathError(op, path, link);
      return;
    }
    if (resolved !== expected) throw linkInPathError(op, path, await this.firstLinkIn(s, root, dir, op, path).catch(() => undefined), resolved, dir);
  }

  /** The topmost segment of `dir` that is a symbolic link (lstat of each, in one round trip). */
  private async firstLinkIn(s: SftpSession, root: string, dir: string, op: string, path: string): Promise<string | undefined> {
    const prefixes = dir.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    const stats = await Promise.all(prefixes.map((p) => lstatRaw(s, underRoot(root, p), op, path)));
    for (let i = 0; i < prefixes.length; i++) {
      const st = stats[i];
      if (st === undefined) return undefined;
      if (kindOf(st.mode) === 'symlink') return prefixes[i];
    }
    return undefined;
  }
}
