/**
 * The rsync target (README "The rsync target"): the system rsync against an rsync daemon or
 * over SSH, spawned with an argument array. Its strength is the batch capability
 * (Target.applyBatch): every batch of puts, mkdirs and symlinks is one rsync call reading
 * the paths NUL-separated from stdin (`--from0 --files-from=-`), and every batch of deletes
 * one more, from a scratch folder where those paths are missing (`--delete-missing-args`).
 *
 * Per path results come from rsync's own report: a path made it when `-ii
 * --out-format='%i %n'` printed it and no error line names it; exit codes 23 and 24 are
 * per-path results, any other failure fails the call (translate-error.ts). Writes:
 *   - `-I` (no quick check): a file rewritten within one timestamp tick keeps size and
 *     mtime, and rsync would skip it; with -I it is compared block by block instead;
 *   - files land under rsync's temp name in their directory and are renamed over the old
 *     one: no reader sees half a file; a killed rsync's receiver removes its temp file, and
 *     when it cannot (SIGKILL, the server's machine gone) the temp names of the files of a
 *     call that failed are swept before the next call (sweepTemps);
 *   - `--no-implied-dirs`: parents are the engine's mkdirs, and the receiver's secure path
 *     walk refuses a link in the way (ELOOP → E_LINK_IN_PATH) instead of replacing it;
 *   - `--whole-file` for a batch of new or small files, the delta transfer for large files
 *     the target holds an older version of (a separate call).
 * Deletes: non-recursive (files, empty directories) without `--force`, so a directory that
 * is not empty is kept (E_NOT_EMPTY); recursive rmdirs with `--force`. Some rsync receivers
 * (3.4.3-era, RsyncProject/rsync issue 910) fail `--delete-missing-args` with
 * `--files-from`: the first delete probes it, and then deletes take lsyncd's include-filter form.
 * Renames over SSH are one `mv` on the server (over the master connection) when `shell` is
 * allowed; otherwise the target has no rename and the engine sends a copy and a delete.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { encodeName, hasEscapedBytes, quotePath } from '../../core/names.ts';
import { ancestorsOf, baseName, parentOf } from '../../core/paths.ts';
import { TargetError, redactUrl } from '../errors.ts';
import { assertSafePath } from '../jail.ts';
import type { Batch, BatchItem, BatchResult, ConnectOptions, ConnectResult, PutOptions, PutSource, RemoteEntry, Target, TargetCapabilities } from '../target.ts';
import { lines, matchItem, parseErrors, parseItemized, parseListing, type Listed } from './output.ts';
import { RSYNC_BIN, Runner, nulList, type RunResult } from './run.ts';
import { translateCall, translatePathError } from './translate-error.ts';
import type { Transport } from './transport.ts';

/** rsync's receiver writes `dir/name` as `dir/.name.XXXXXX` (mkstemp's six characters). */
const RSYNC_TEMP_NAME = /^\.(.+)\.[A-Za-z0-9]{6}$/s;

/** Files at least this large that the target already holds go by the delta transfer. */
export const DELTA_MIN_SIZE = 1024 * 1024;
/** Directories per listing call (listDirs): the list and its rules stay a few hundred KiB. */
const LIST_CHUNK = 2000;

export interface RsyncTargetOptions {
  readonly url: string;
  readonly transport: (runner: Runner) => Transport;
  readonly timeoutMs: number;
  /**
   * How deletes are sent: 'detect' (default: probed once, before the first delete) or
   * 'filter', lsyncd's include-filter form always (what a receiver with RsyncProject/rsync
   * issue 910 gets; tests force it to check that form against a sound receiver).
   */
  readonly deleteForm?: 'detect' | 'filter';
}

/** The mv script: refuses a link or a non-directory on the way below the root, then renames. */
const MV_SCRIPT = [
  // Each argument comes as a printf format of octal escapes (any byte, a trailing newline too).
  'dec() { v=$(printf "$1"; printf x); v=${v%x}; }',
  'dec "$1"; root=$v; dec "$2"; a=$v; dec "$3"; b=$v; set -- "$root" "$a" "$b"',
  'root=$1',
  'chk() { p=$root; rest=$1; while :; do case $rest in */*) c=${rest%%/*}; rest=${rest#*/};; *) return 0;; esac; p=$p/$c; if [ -L "$p" ]; then exit 40; fi; [ -d "$p" ] || exit 2; done; }',
  'chk "$2"; chk "$3"',
  '[ -e "$root/$2" ] || [ -L "$root/$2" ] || exit 2',
  'exec mv -fT -- "$root/$2" "$root/$3"',
].join('\n');

/**
 * The link check over SSH: for each argument `F:path` (F=1: the path itself may not be a link
 * either), prints its index when a directory on the way below the root is a link.
 */
const LINK_SCRIPT = [
  'dec() { v=$(printf "$1"; printf x); v=${v%x}; }',
  'dec "$1"; root=$v; shift; i=0',
  'for a in "$@"; do',
  '  self=${a%%:*}; dec "${a#*:}"; rest=$v; p=$root',
  '  while :; do',
  '    case $rest in */*) c=${rest%%/*}; rest=${rest#*/};; *) if [ "$self" = 1 ] && [ -L "$p/$rest" ]; then echo $i; fi; break;; esac',
  '    p=$p/$c',
  '    if [ -L "$p" ]; then echo $i; break; fi',
  '  done',
  '  i=$((i+1))',
  'done',
].join('\n');

export class RsyncTarget implements Target {
  readonly displayName: string;
  readonly caps: TargetCapabilities;
  /** Ops the executor keeps in flight: the batch gate groups them (engine/batch-apply.ts). */
  readonly maxInFlight = 3000;
  readonly rename?: (from: string, to: string) => Promise<void>;
  private readonly runner = new Runner();
  private readonly transport: Transport;
  private scratch: string | undefined;
  /** Whether deletes take lsyncd's include-filter form (the receiver breaks --delete-missing-args): probed once, at the first delete. */
  private filterDeletes: Promise<boolean> | undefined;
  private seq = 0;
  /**
   * Files of send calls that failed as a whole (the server or the connection died): by
   * directory, the names whose rsync temp file (`.name.XXXXXX`) a receiver killed without a
   * chance to clean up may have left. Swept before the next call (sweepTemps).
   */
  private readonly tempSweep = new Map<string, Set<string>>();
  private sweeping: Promise<void> | undefined;
  /** Send calls running now: a sweep waits until none runs (it would take a live temp file). */
  private activeSends = 0;
  /** rsync's own statistics of the sends so far (`--stats`): bytes on the wire, and file data sent as literal bytes. */
  readonly wire = { sentBytes: 0, literalBytes: 0, matchedBytes: 0 };

  constructor(private readonly o: RsyncTargetOptions) {
    this.displayName = redactUrl(o.url);
    this.transport = o.transport(this.runner);
    this.caps = { preservesMtime: true, fastRecursiveRemove: true, byteNames: true };
    if (this.transport.shell !== undefined) this.rename = (from, to) => this.renameOverShell(from, to);
  }

  private get timeoutArgs(): string[] {
    return [`--timeout=${Math.max(1, Math.ceil(this.o.timeoutMs / 1000))}`];
  }

  private scratchDir(): string {
    this.scratch ??= mkdtempSync(join(tmpdir(), 'si-rsync-stage-'));
    return this.scratch;
  }

  /** A fresh empty folder under the scratch folder (per call: calls run concurrently). */
  private freshDir(): string {
    const d = join(this.scratchDir(), String(++this.seq));
    mkdirSync(d);
    return d;
  }

  private rsync(args: readonly string[], input?: Buffer): Promise<RunResult> {
    // A dead server must not hold a call for ever: rsync's --timeout covers I/O stalls, this the rest.
    return this.runner.run(RSYNC_BIN, [...this.transport.args(), ...args], { env: this.transport.env(), ...(input ? { input } : {}), killAfterMs: this.o.timeoutMs * 4 + 30_000 });
  }

  async connect(options: ConnectOptions = {}): Promise<ConnectResult> {
    await this.transport.open();
    let rootCreated = false;
    if ((await this.stat('')) === undefined) {
      const parent = this.transport.parent;
      if (options.rootExisted === true && parent !== undefined && !(await this.dirExists(parent.dir))) {
        throw new TargetError('E_ROOT_GONE', `the target root of ${this.displayName} is gone, and its parent too (an unmounted disk?): waiting for it, nothing is created`, { path: '' });
      }
      const empty = this.freshDir();
      const made = await this.rsync(['-d', ...(options.rootExisted === true ? [] : ['--mkpath']), ...this.timeoutArgs, `${empty}/`, this.transport.root]);
      if (made.exit !== 0) throw translateCall(made.exit, made.stderr.toString('utf8'), `creating the target root of ${this.displayName}`);
      rootCreated = true;
    }
    this.filterDeletes = undefined; // probed again at the first delete (the server may have changed)
    return { rootCreated };
  }

  /** True when deletes take the include-filter form (forced, or the probe found the receiver broken). */
  private deleteForm(): Promise<boolean> {
    if (this.o.deleteForm === 'filter') return Promise.resolve(true);
    // A probe that failed (server down) is not remembered: the next delete probes again.
    this.filterDeletes ??= this.deleteMissingArgsBroken().catch((err: unknown) => {
      this.filterDeletes = undefined;
      throw err;
    });
    return this.filterDeletes;
  }

  /**
   * RsyncProject/rsync issue 910: a receiver that fails `--delete-missing-args` with
   * `--files-from` ("invalid file mode"). Probed by behaviour, with a name that exists on
   * neither side: nothing is written or removed either way.
   */
  private async deleteMissingArgsBroken(): Promise<boolean> {
    const r = await this.rsync(['-d', '--no-implied-dirs', '--delete-missing-args', '--from0', '--files-from=-', ...this.timeoutArgs, `${this.freshDir()}/`, this.transport.root], nulList([Buffer.from(`.sync-inotify-probe-${process.pid}-${Date.now()}`)]));
    if (r.exit === 0) return false;
    const said = r.stderr.toString('utf8');
    if (/invalid file mode|protocol incompatibility/i.test(said)) return true;
    throw translateCall(r.exit, said, `connecting to ${this.displayName}`);
  }

  /** The remote folder `dir` (as rsync takes it, with a trailing slash) exists. */
  private async dirExists(dir: string): Promise<boolean> {
    const r = await this.rsync(['--list-only', '-d', '--exclude=*', ...this.timeoutArgs, dir]);
    if (r.exit === 0) return true;
    const said = r.stderr.toString('utf8');
    if (/(link_stat|change_dir)[^\n]*failed: (No such file or directory \(2\)|Not a directory \(20\))/.test(said)) return false;
    throw translateCall(r.exit, said, `looking at ${dir.replace(/^[^:]*:/, '')} on ${this.displayName}`);
  }

  /**
   * Entries at `path` and (depth 1) below it: `-r` from a files-from list of one path, with a
   * filter that stops one level down. Undefined when the path is missing.
   */
  private async listAt(path: string, depth: 0 | 1): Promise<Listed[] | undefined> {
    const dir = this.freshDir();
    const rule = Buffer.concat([Buffer.from('- /'), path === '' ? Buffer.alloc(0) : Buffer.concat([encodeName(escapeGlob(path)), Buffer.from('/')]), Buffer.from(depth === 0 ? '*' : '*/*'), Buffer.of(0)]);
    writeFileSync(join(dir, 'filter'), rule);
    try {
      const r = await this.rsync(['--list-only', '-r', '-l', '-8', '--no-h', '--from0', `--exclude-from=${join(dir, 'filter')}`, '--files-from=-', ...this.timeoutArgs, this.transport.root, `${dir}/`], nulList([path === '' ? Buffer.from('.') : encodeName(path)]));
      const said = r.stderr.toString('utf8');
      if (r.exit !== 0 && /(link_stat|change_dir)[^\n]*failed: (No such file or directory \(2\)|Not a directory \(20\))/.test(said)) return undefined;
      if (r.exit === 23 && /\(40\)/.test(said)) throw new TargetError('E_LINK_IN_PATH', `${quotePath(path)}: a link on the way below the target root`, { path });
      if (r.exit !== 0) throw translateCall(r.exit, said, `listing ${quotePath(path)} on ${this.displayName}`);
      return parseListing(r.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The root as a path on the server (SSH: after `host:`). */
  private remoteRootPath(): string {
    return this.transport.root.slice(this.transport.root.indexOf(':') + 1).replace(/\/+$/, '') || '/';
  }

  /**
   * Which of `paths` have a link on the way below the root (or are one, where `self`): the
   * jail (README "rsync"). Over SSH one shell call; without a shell, one listing per parent
   * (rsync's sender refuses to list through a link) and per path that must not be one.
   */
  private async linksOnTheWay(paths: readonly string[], self: readonly boolean[]): Promise<Set<number>> {
    const found = new Set<number>();
    if (this.transport.shell !== undefined) {
      const r = await this.transport.shell(LINK_SCRIPT, [printfEscape(encodeName(this.remoteRootPath())), ...paths.map((p, i) => `${self[i] ? 1 : 0}:${printfEscape(encodeName(p))}`)]);
      if (r.exit !== 0) throw translateCall(r.exit, r.stderr.toString('utf8'), `checking paths on ${this.displayName}`);
      for (const line of r.stdout.toString('latin1').split('\n')) if (/^\d+$/.test(line)) found.add(Number(line));
      return found;
    }
    const parents = new Map<string, number[]>();
    paths.forEach((p, i) => {
      const parent = parentOf(p);
      if (parent !== '') parents.set(parent, [...(parents.get(parent) ?? []), i]);
    });
    for (const [parent, indexes] of parents) {
      try {
        const at = await this.listAt(parent, 0);
        if (at?.find((e) => e.path === parent)?.kind === 'symlink') indexes.forEach((i) => found.add(i));
      } catch (err) {
        if (err instanceof TargetError && err.code === 'E_LINK_IN_PATH') indexes.forEach((i) => found.add(i));
        else throw err;
      }
    }
    for (let i = 0; i < paths.length; i++) {
      if (!self[i] || found.has(i)) continue;
      const at = await this.listAt(paths[i]!, 0).catch((err: unknown) => {
        if (err instanceof TargetError && err.code === 'E_LINK_IN_PATH') return 'link' as const;
        throw err;
      });
      if (at === 'link' || at?.find((e) => e.path === paths[i])?.kind === 'symlink') found.add(i);
    }
    return found;
  }

  private async refuseLinks(path: string, self: boolean): Promise<void> {
    if (this.transport.shell === undefined) return; // the daemon's sender refuses by itself
    if ((await this.linksOnTheWay([path], [self])).size > 0) throw new TargetError('E_LINK_IN_PATH', `${quotePath(path)}: a link on the way below the target root`, { path });
  }

  async stat(path: string): Promise<RemoteEntry | undefined> {
    if (path !== '') assertSafePath(path);
    if (path === '') return (await this.dirExists(this.transport.root)) ? { path: '', kind: 'dir', size: 0 } : undefined;
    if (path.includes('/')) await this.refuseLinks(path, false);
    const found = await this.listAt(path, 0);
    const self = found?.find((e) => e.path === path);
    if (self === undefined) return undefined;
    // A link above the path is not looked through: the listing shows each level it passed.
    return toRemote(self);
  }

  async list(dir: string): Promise<RemoteEntry[]> {
    if (dir !== '') assertSafePath(dir);
    if (dir !== '') await this.refuseLinks(dir, true);
    const found = await this.listAt(dir, 1);
    if (found === undefined) throw new TargetError('E_NOT_FOUND', `${quotePath(dir)} not found on ${this.displayName}`, { path: dir });
    const self = found.find((e) => e.path === dir);
    if (self !== undefined && self.kind === 'symlink') throw new TargetError('E_LINK_IN_PATH', `${quotePath(dir)} is a link on the target`, { path: dir });
    if (self !== undefined && self.kind !== 'dir') throw new TargetError('E_NOT_FOUND', `${quotePath(dir)} is not a directory on ${this.displayName}`, { path: dir });
    return found.filter((e) => e.path !== dir && parentOf(e.path) === dir).map(toRemote);
  }

  /**
   * Many directories listed in one call per LIST_CHUNK (a first push's `once` verifies every
   * directory it made: one call each cost a process and, over SSH, a shell round trip more).
   * `-r` from the list of directories, with rules that keep each one's children and stop one
   * level below. Anything the call does not settle cleanly (a directory neither listed nor
   * reported missing, a link in a directory's place, an error naming no directory) is
   * listed again alone by `list`, which gives its exact answer or error.
   */
  async listDirs(dirs: readonly string[]): Promise<(RemoteEntry[] | undefined)[]> {
    for (const d of dirs) if (d !== '') assertSafePath(d);
    const out: (RemoteEntry[] | undefined)[] = [];
    for (let start = 0; start < dirs.length; start += LIST_CHUNK) out.push(...(await this.listChunk(dirs.slice(start, start + LIST_CHUNK))));
    return out;
  }

  private async listChunk(dirs: readonly string[]): Promise<(RemoteEntry[] | undefined)[]> {
    const alone = async (d: string) => {
      try {
        return await this.list(d);
      } catch (err) {
        if (err instanceof TargetError && err.code === 'E_NOT_FOUND') return undefined;
        throw err;
      }
    };
    // Over SSH the sender follows links: the jail's shell check first, those go alone (and reject).
    const linked = this.transport.shell !== undefined ? await this.linksOnTheWay(dirs.filter((d) => d !== ''), dirs.filter((d) => d !== '').map(() => true)) : new Set<number>();
    const nonRoot = dirs.filter((d) => d !== '');
    const suspect = new Set(nonRoot.filter((_, i) => linked.has(i)));
    const asked = dirs.filter((d) => !suspect.has(d));
    const byDir = new Map<string, RemoteEntry[]>();
    const selfKind = new Map<string, string>();
    const missing = new Set<string>();
    if (asked.length > 0) {
      const dir = this.freshDir();
      const glob = (d: string) => (d === '' ? Buffer.alloc(0) : Buffer.concat([Buffer.from('/'), encodeName(escapeGlob(d))]));
      const rule = (sign: string, d: string, tail: string) => Buffer.concat([Buffer.from(`${sign} `), glob(d), Buffer.from(tail), Buffer.of(0)]);
      // First match wins: each directory and its children in, then the level below each out.
      writeFileSync(join(dir, 'filter'), Buffer.concat([...asked.filter((d) => d !== '').map((d) => rule('+', d, '')), ...asked.map((d) => rule('+', d, '/*')), ...asked.map((d) => rule('-', d, '/*/*'))]));
      try {
        const r = await this.rsync(['--list-only', '-r', '-l', '-8', '--no-h', '--from0', `--exclude-from=${join(dir, 'filter')}`, '--files-from=-', ...this.timeoutArgs, this.transport.root, `${dir}/`], nulList(asked.map((d) => (d === '' ? Buffer.from('.') : encodeName(d)))));
        const said = r.stderr.toString('utf8');
        if (r.exit !== 0 && r.exit !== 23 && r.exit !== 24) throw translateCall(r.exit, said, `listing ${asked.length} directories on ${this.displayName}`);
        const wanted = new Set(asked);
        for (const e of parseListing(r.stdout)) {
          if (wanted.has(e.path)) selfKind.set(e.path, e.kind);
          if (e.path === '') continue;
          const parent = parentOf(e.path);
          if (!wanted.has(parent)) continue;
          const list = byDir.get(parent);
          if (list) list.push(toRemote(e));
          else byDir.set(parent, [toRemote(e)]);
        }
        if (r.exit !== 0) {
          for (const e of parseErrors(r.stderr)) {
            const i = e.quoted === '' ? -1 : matchItem(e.quoted, asked);
            // Only "no such directory" for a directory that was not listed counts as missing;
            // any other error sends the directories it may concern to `list` alone.
            if (i >= 0 && (e.errno === 2 || e.errno === 20) && !selfKind.has(asked[i]!)) missing.add(asked[i]!);
            else if (i >= 0) suspect.add(asked[i]!);
            else if (e.errno !== undefined || /^rsync:|ERROR/.test(e.line)) asked.forEach((d) => suspect.add(d));
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const result: (RemoteEntry[] | undefined)[] = [];
    for (const d of dirs) {
      if (!suspect.has(d) && missing.has(d)) result.push(undefined);
      else if (!suspect.has(d) && selfKind.get(d) === 'dir') result.push(byDir.get(d) ?? []);
      else result.push(await alone(d));
    }
    return result;
  }

  /** One file from a stream: written to a private folder with its mtime, then sent as a batch of one. */
  async put(path: string, source: PutSource, options: PutOptions): Promise<void> {
    assertSafePath(path);
    // rsync writes its own temp name beside the file; the engine's is only checked.
    if (options.tempPath !== undefined) assertSafePath(options.tempPath);
    const root = this.freshDir();
    try {
      const abs = localPath(root, path);
      mkdirSync(localPath(root, parentOf(path)), { recursive: true });
      await pipeline(source.open(), createWriteStream(abs));
      utimesSync(abs, new Date(source.mtimeMs), new Date(source.mtimeMs));
      await this.single({ sourceRoot: root, items: [{ kind: 'put', path, size: source.size, replaces: true }] });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }

  async mkdir(path: string): Promise<void> {
    assertSafePath(path);
    const root = this.freshDir();
    try {
      mkdirSync(localPath(root, path), { recursive: true });
      await this.single({ sourceRoot: root, items: [{ kind: 'mkdir', path }] });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }

  async symlink(path: string, linkTarget: string): Promise<void> {
    assertSafePath(path);
    const root = this.freshDir();
    try {
      const abs = localPath(root, path);
      mkdirSync(localPath(root, parentOf(path)), { recursive: true });
      symlinkSync(hasEscapedBytes(linkTarget) ? encodeName(linkTarget) : linkTarget, abs);
      await this.single({ sourceRoot: root, items: [{ kind: 'symlink', path }] });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }

  async remove(path: string): Promise<void> {
    assertSafePath(path);
    await this.single({ sourceRoot: this.scratchDir(), items: [{ kind: 'remove', path }] });
  }

  async rmdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    assertSafePath(path);
    await this.single({ sourceRoot: this.scratchDir(), items: [{ kind: 'rmdir', path, recursive: options.recursive === true }] });
  }

  private async single(batch: Batch): Promise<void> {
    const [result] = await this.applyBatch(batch);
    if (result && !result.ok) throw result.error;
  }

  async applyBatch(batch: Batch): Promise<BatchResult[]> {
    if (this.tempSweep.size > 0 && this.activeSends === 0) await (this.sweeping ??= this.sweepTemps().finally(() => (this.sweeping = undefined)));
    const results: (BatchResult | undefined)[] = new Array(batch.items.length).fill(undefined);
    const groups = new Map<string, number[]>();
    batch.items.forEach((item, i) => {
      if (!safe(item.path)) {
        results[i] = { ok: false, error: new TargetError('E_NAME', `${quotePath(item.path)} is not a safe relative path`, { path: item.path }) };
        return;
      }
      const g = groupOf(item);
      const list = groups.get(g);
      if (list) list.push(i);
      else groups.set(g, [i]);
    });
    // Deletes would race puts of the same batch only if the engine put both in one: it never
    // does (only a mkdir and what goes below it travel together, engine/batch-apply.ts). The
    // whole-file call goes first: it makes the directories the delta call's files may be in.
    for (const group of GROUP_ORDER) {
      const indexes = groups.get(group);
      if (indexes === undefined) continue;
      const items = indexes.map((i) => batch.items[i]!);
      const got = group.startsWith('delete') ? await this.deleteGroup(items, group === 'delete-force') : await this.sendGroup(batch.sourceRoot, items, group === 'send-delta');
      indexes.forEach((i, k) => (results[i] = got[k]));
    }
    return results.map((r) => r ?? { ok: false, error: new TargetError('E_PROTOCOL', 'internal: no result') });
  }

  /** Puts, mkdirs and symlinks: one rsync call from the source folder. */
  private async sendGroup(sourceRoot: string, items: readonly BatchItem[], delta: boolean): Promise<BatchResult[]> {
    const args = ['-l', '-t', '-d', '-O', '-I', '-8', '--stats', '--no-implied-dirs', '--ignore-missing-args', '--from0', '--files-from=-', '-ii', '--out-format=%i %n', ...this.timeoutArgs, ...(delta ? ['--no-whole-file'] : ['--whole-file']), `${sourceRoot}/`, this.transport.root];
    let r: RunResult;
    this.activeSends++;
    try {
      r = await this.rsync(args, nulList(items.map((i) => encodeName(i.path))));
    } finally {
      this.activeSends--;
    }
    if (r.exit !== 0 && r.exit !== 23 && r.exit !== 24) this.noteTempsOf(items);
    const stat = (name: string) => Number(new RegExp(`^${name}: ([\\d,]+)`, 'm').exec(r.stdout.toString('latin1'))?.[1]?.replace(/,/g, '') ?? 0);
    this.wire.sentBytes += stat('Total bytes sent');
    this.wire.literalBytes += stat('Literal data');
    this.wire.matchedBytes += stat('Matched data');
    return this.results(r, items, 'sending');
  }

  /** A send call failed as a whole: its files' rsync temp names are swept before the next call. */
  private noteTempsOf(items: readonly BatchItem[]): void {
    for (const item of items) {
      if (item.kind !== 'put') continue;
      const dir = parentOf(item.path);
      const names = this.tempSweep.get(dir);
      if (names) names.add(baseName(item.path));
      else this.tempSweep.set(dir, new Set([baseName(item.path)]));
    }
  }

  /**
   * Removes the temp files a receiver killed with SIGKILL (the server's machine or daemon
   * killed mid-transfer) left: in each noted directory, the entries named as rsync names its
   * temp file for one of the noted files (`.name.` and six letters or digits), and only
   * those. A failure keeps them noted (the target is still down: the call that follows
   * fails the same way and the engine retries later).
   */
  private async sweepTemps(): Promise<void> {
    const noted = [...this.tempSweep];
    const listed = await this.listDirs(noted.map(([dir]) => dir));
    const leftovers: BatchItem[] = [];
    noted.forEach(([, names], i) => {
      for (const e of listed[i] ?? []) {
        const m = e.kind === 'file' ? RSYNC_TEMP_NAME.exec(baseName(e.path)) : null;
        if (m && names.has(m[1]!)) leftovers.push({ kind: 'remove', path: e.path });
      }
    });
    if (leftovers.length > 0) {
      const results = await this.deleteUnlinked(leftovers, false);
      const failed = results.find((r) => !r.ok);
      if (failed && !failed.ok) throw failed.error;
    }
    for (const [dir] of noted) this.tempSweep.delete(dir);
  }

  /** Removes and rmdirs: one rsync call from a folder where these paths are missing. */
  private async deleteGroup(all: readonly BatchItem[], force: boolean): Promise<BatchResult[]> {
    // Never through a link, and an rmdir never removes a link in place of a directory.
    const linked = await this.linksOnTheWay(all.map((i) => i.path), all.map((i) => i.kind === 'rmdir'));
    const items = all.filter((_, i) => !linked.has(i));
    const refused = (item: BatchItem): BatchResult => ({ ok: false, error: new TargetError('E_LINK_IN_PATH', `${quotePath(item.path)}: a link on the way below the target root (or in its place): not removed`, { path: item.path }) });
    if (items.length === 0) return all.map(refused);
    const results = await this.deleteUnlinked(items, force);
    let k = 0;
    return all.map((item, i) => (linked.has(i) ? refused(item) : results[k++]!));
  }

  private async deleteUnlinked(items: readonly BatchItem[], force: boolean): Promise<BatchResult[]> {
    const skeleton = this.freshDir();
    try {
      // The parents exist in the skeleton (rsync needs them to name a missing child), the paths do not.
      for (const item of items) {
        const parent = parentOf(item.path);
        if (parent !== '') mkdirSync(localPath(skeleton, parent), { recursive: true });
      }
      for (const item of items) rmSync(localPath(skeleton, item.path), { recursive: true, force: true });
      const common = ['-d', '-8', '--ignore-errors', '-ii', '--out-format=%i %n', ...this.timeoutArgs, ...(force ? ['--force'] : [])];
      let r: RunResult;
      if (!(await this.deleteForm())) {
        r = await this.rsync([...common, '--no-implied-dirs', '--delete-missing-args', '--from0', '--files-from=-', `${skeleton}/`, this.transport.root], nulList(items.map((i) => encodeName(i.path))));
      } else {
        // lsyncd's form: include each path (a recursive rmdir with all below it) and its
        // parents, exclude everything else, --delete: only the included names can go;
        // --existing: nothing missing on the target is created from the skeleton.
        const rules = new Set<string>();
        for (const item of items) {
          for (const a of ancestorsOf(item.path)) if (a !== '') rules.add(`+ /${escapeGlob(a)}/`);
          rules.add(`+ /${escapeGlob(item.path)}`);
          if (item.kind === 'rmdir' && item.recursive) rules.add(`+ /${escapeGlob(item.path)}/***`);
        }
        rules.add('- *');
        // NUL-terminated rules as they are (not nulList: its `./` before each would make a rule a merge-file name).
        writeFileSync(join(skeleton, '..', `${baseName(skeleton)}.filter`), Buffer.concat([...rules].flatMap((x) => [encodeName(x), Buffer.of(0)])));
        r = await this.rsync([...common, '-r', '--delete', '--existing', '--from0', `--filter=merge ${join(skeleton, '..', `${baseName(skeleton)}.filter`)}`, `${skeleton}/`, this.transport.root]);
      }
      return this.results(r, items, 'deleting');
    } finally {
      rmSync(skeleton, { recursive: true, force: true });
      rmSync(`${skeleton}.filter`, { force: true });
    }
  }

  /**
   * Per-path results of one call: exit 0, 23 (some paths failed) and 24 (some vanished) are
   * read path by path; anything else fails every path alike (rejects: the engine treats the
   * batch as one failure of the target).
   */
  private results(r: RunResult, items: readonly BatchItem[], what: string): BatchResult[] {
    const stderr = r.stderr.toString('utf8');
    if (r.exit !== 0 && r.exit !== 23 && r.exit !== 24) throw translateCall(r.exit, stderr, `${what} ${items.length} path${items.length === 1 ? '' : 's'} on ${this.displayName}`);
    const paths = items.map((i) => i.path);
    const reported = new Set<number>();
    for (const line of parseItemized(r.stdout)) {
      const i = paths.indexOf(line.path);
      if (i >= 0) reported.add(i);
    }
    const failed = new Map<number, TargetError>();
    let unattributed: string | undefined;
    // "cannot delete non-empty directory" comes on stdout, errors on stderr.
    const errorLines = [...parseErrors(r.stderr), ...parseErrors(Buffer.concat(lines(r.stdout).filter((l) => l.toString('latin1').startsWith('cannot delete')).flatMap((l) => [l, Buffer.from('\n')])))];
    for (const e of errorLines) {
      const i = e.quoted === '' ? -1 : matchItem(e.quoted, paths);
      if (i < 0) {
        if (e.errno !== undefined || /^rsync:|ERROR/.test(e.line)) unattributed ??= e.line;
        continue;
      }
      if (failed.has(i)) continue;
      // The sender is this machine: its errors are the source moving on (looked at again).
      const err = e.role === 'sender' ? new TargetError('E_CONNECTION', `source changed: ${e.line}`, { path: paths[i]! }) : translatePathError(e.errno, e.line, paths[i]!);
      failed.set(i, err);
    }
    return items.map((item, i): BatchResult => {
      const err = failed.get(i);
      if (err) return { ok: false, error: err };
      if (unattributed !== undefined && r.exit !== 0) return { ok: false, error: new TargetError('E_PROTOCOL', `rsync reported an error it did not tie to a path: ${unattributed}`, { path: item.path }) };
      // A delete of a path already gone is not reported (idempotent); a put must be.
      if (item.kind === 'remove' || item.kind === 'rmdir') return { ok: true };
      if (reported.has(i)) return { ok: true };
      return { ok: false, error: new TargetError('E_CONNECTION', `${quotePath(item.path)} was not sent (gone from the source?)`, { path: item.path }) };
    });
  }

  private async renameOverShell(from: string, to: string): Promise<void> {
    assertSafePath(from);
    assertSafePath(to);
    const root = this.remoteRootPath();
    const r = await this.transport.shell!(MV_SCRIPT, [root, from, to].map((p) => printfEscape(encodeName(p))));
    if (r.exit === 0) return;
    const said = r.stderr.toString('utf8').trim();
    if (r.exit === 40) throw new TargetError('E_LINK_IN_PATH', `rename ${quotePath(from)} -> ${quotePath(to)}: a link on the way below the target root`, { path: to });
    if (r.exit === 2 || /No such file or directory/.test(said)) throw new TargetError('E_NOT_FOUND', `rename ${quotePath(from)} -> ${quotePath(to)}: not found`, { path: from });
    if (r.exit === 255) throw translateCall(255, said, `rename on ${this.displayName}`);
    if (/Directory not empty|cannot overwrite|File exists|Is a directory|Not a directory/.test(said)) throw new TargetError('E_EXISTS', `rename ${quotePath(from)} -> ${quotePath(to)}: ${said}`, { path: to });
    if (/Permission denied|Operation not permitted|Read-only/.test(said)) throw new TargetError('E_PERMISSION', `rename ${quotePath(from)} -> ${quotePath(to)}: ${said}`, { path: to });
    throw new TargetError('E_PROTOCOL', `rename ${quotePath(from)} -> ${quotePath(to)}: exit ${r.exit}: ${said}`, { path: to });
  }

  async close(): Promise<void> {
    this.runner.killAll();
    await this.transport.close();
    if (this.scratch !== undefined) rmSync(this.scratch, { recursive: true, force: true });
    this.scratch = undefined;
  }
}

/** The calls of one batch, in this order. */
const GROUP_ORDER = ['send', 'send-delta', 'delete', 'delete-force'] as const;

/** Which call an item goes in: sends (whole-file or delta), deletes (with or without --force). */
function groupOf(item: BatchItem): string {
  switch (item.kind) {
    case 'put':
      return item.replaces && item.size >= DELTA_MIN_SIZE ? 'send-delta' : 'send';
    case 'mkdir':
    case 'symlink':
      return 'send';
    case 'remove':
      return 'delete';
    case 'rmdir':
      return item.recursive ? 'delete-force' : 'delete';
  }
}

function safe(path: string): boolean {
  try {
    assertSafePath(path);
    return true;
  } catch {
    return false;
  }
}

/** The local file for a relative path under `root` (bytes when the name is not UTF-8). */
function localPath(root: string, path: string): string | Buffer {
  return hasEscapedBytes(path) ? Buffer.concat([Buffer.from(root + '/'), encodeName(path)]) : join(root, path);
}

/** Bytes as a printf(1) format that prints exactly them: safe characters as they are, others as \\ooo. */
function printfEscape(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) out += /[A-Za-z0-9._/]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`;
  return out;
}

/** A literal name inside an rsync filter pattern that holds wildcards. */
function escapeGlob(path: string): string {
  return path.replace(/[\\*?[]/g, '\\$&');
}

function toRemote(e: Listed): RemoteEntry {
  return { path: e.path, kind: e.kind, size: e.kind === 'file' ? e.size : 0, mtimeMs: e.mtimeMs, ...(e.linkTarget !== undefined ? { linkTarget: e.linkTarget } : {}) };
}
