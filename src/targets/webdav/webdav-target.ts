/**
 * WebDAV target (`webdav://`, `webdavs://`, `http(s)://` with `type: webdav`), verified
 * against Apache mod_dav_fs, nginx dav + dav_ext and `rclone serve webdav`.
 *
 * How the contract is met over HTTP:
 *   - put: PUT to tempPath with an exact Content-Length, then MOVE over the final name with
 *     `Overwrite: T`. While the PUT runs, a PROPFIND looks at the final name: a collection
 *     there is E_EXISTS, because MOVE with `Overwrite: T` would delete it (RFC 4918 §9.9.3)
 *     and nothing is ever removed to make room.
 *   - mkdir: MKCOL `dir/`; a 405 is "something is there": fine when it is a collection.
 *   - remove: DELETE with `Depth: 0`, which Apache and nginx refuse (400) for a collection,
 *     so a file delete can never take a directory with it; on a server that deletes the
 *     collection anyway (rclone: found by a probe at connect), a PROPFIND looks first.
 *   - rmdir: PROPFIND Depth 1 says whether it is empty (E_NOT_EMPTY otherwise), then DELETE
 *     `dir/`; recursive is one DELETE (`fastRecursiveRemove`). nginx hides dot files from
 *     PROPFIND, so there a directory holding only dot files looks empty: the engine deletes
 *     our own files one by one from the state store first, never from a listing.
 *   - rename: one MOVE for a file or a whole directory; a directory never overwrites
 *     (`Overwrite: F`, 412 → E_EXISTS), a file replaces a file.
 *   - mtime: probed once per target on the first connect (probeServer): `X-OC-Mtime` on
 *     PUT (ownCloud, Nextcloud, rclone), else PROPPATCH of getlastmodified, else none, and
 *     then `preservesMtime` is false and the state store is the truth.
 */
import { randomBytes } from 'node:crypto';
import { isSafeRelativePath, parentOf } from '../../core/paths.ts';
import { settleRefusal, verdictAfterRefusal } from '../refusal.ts';
import { TargetError } from '../errors.ts';
import type { ConnectOptions, ConnectResult, PutOptions, PutSource, RemoteEntry, Target, TargetCapabilities } from '../target.ts';
import { firstFailure, parseMultistatus, PROPFIND_BODY, proppatchMtimeBody, type DavMember } from './multistatus.ts';
import { statusError, type DavOperation } from './translate-error.ts';
import { DavClient, exactLength, type DavResponse } from './webdav-client.ts';
import { loadWebdavModules } from './webdav-modules.ts';
import { relativeFromHref, requestPath } from './webdav-paths.ts';
import { webdavSettings, type WebdavSettings, type WebdavSpec } from './webdav-settings.ts';

export interface WebdavLogger {
  warn(message: string): void;
}

export interface WebdavTargetOptions {
  readonly logger?: WebdavLogger;
}

/** How this server keeps a file's mtime. */
export type MtimeMode = 'x-oc-mtime' | 'proppatch' | 'none';

/** What the connect-time probe found out about the server. */
export interface ServerTraits {
  readonly mtime: MtimeMode;
  /** DELETE with `Depth: 0` removes a whole collection (rclone): look before deleting a file. */
  readonly deleteIgnoresDepth: boolean;
}

export function createWebdavTarget(spec: WebdavSpec, url: URL, options: WebdavTargetOptions = {}): Target {
  return new WebdavTarget(webdavSettings(spec, url), options);
}

const ok = (status: number) => status >= 200 && status <= 299;

export class WebdavTarget implements Target {
  readonly displayName: string;
  /** Twice the sockets: the next request is ready when a socket frees up. */
  readonly maxInFlight: number;
  private readonly client: DavClient;
  private traits: ServerTraits | undefined;
  private warned = false;

  constructor(
    private readonly s: WebdavSettings,
    private readonly options: WebdavTargetOptions = {},
  ) {
    this.displayName = s.displayName;
    this.maxInFlight = s.connections * 2;
    this.client = new DavClient(s);
  }

  /** Final once `connect()` resolved (the mtime probe); before that, no mtime preservation. */
  get caps(): TargetCapabilities {
    return {
      preservesMtime: this.traits !== undefined && this.traits.mtime !== 'none',
      fastRecursiveRemove: true,
      byteNames: true,
    };
  }

  /** How mtimes are kept (after connect), for tests and `status`. */
  get serverTraits(): ServerTraits | undefined {
    return this.traits;
  }

  // ---- paths and requests -----------------------------------------------------------------

  private req(path: string, collection: boolean): string {
    if (!isSafeRelativePath(path)) throw new TargetError('E_NAME', `refusing path ${JSON.stringify(path)}: not a safe relative path`, { path });
    return requestPath(this.s.rootSegments, path, collection);
  }

  private destination(path: string, collection: boolean): string {
    return this.s.origin + this.req(path, collection);
  }

  private propfind(path: string, collection: boolean, depth: '0' | '1'): Promise<DavResponse> {
    return this.client.send({
      method: 'PROPFIND',
      path: this.req(path, collection),
      headers: { depth, 'content-type': 'application/xml; charset=utf-8' },
      body: () => PROPFIND_BODY,
      length: Buffer.byteLength(PROPFIND_BODY),
      readBody: true,
      about: path,
    });
  }

  /** The error for a failed request; a 207 names the member that failed. */
  private fail(op: DavOperation, path: string, res: DavResponse): TargetError {
    if (res.status === 207) {
      const bad = firstFailure(parseMultistatus(res.text));
      if (bad?.status !== undefined) {
        const member = relativeFromHref(this.s.rootSegments, bad.href) ?? bad.href;
        return statusError(op, path, bad.status, `for ${JSON.stringify(member)} (in a 207 multistatus)`);
      }
      return statusError(op, path, 207, '(a multistatus without a failing member)', 'E_PROTOCOL');
    }
    return statusError(op, path, res.status);
  }

  /**
   * A 403 or 500 to a write may mean a missing parent (hosted servers say 403, nginx 500
   * when it cannot open the file, instead of 409): look at the parent before naming the error.
   */
  private async failWrite(op: DavOperation, path: string, res: DavResponse): Promise<TargetError> {
    if ((res.status === 403 || res.status === 500) && path.includes('/')) {
      const parent = await this.kindOf(parentOf(path)).catch(() => 'dir' as const);
      if (parent === undefined) return statusError(op, path, res.status, '(the parent directory does not exist)', 'E_NOT_FOUND');
    }
    return this.fail(op, path, res);
  }

  // ---- connection -------------------------------------------------------------------------

  async connect(options: ConnectOptions = {}): Promise<ConnectResult> {
    await loadWebdavModules();
    if (this.s.insecure && !this.warned) {
      this.warned = true;
      (this.options.logger ?? console).warn(`${this.displayName}: TLS certificate verification is off (insecure: true); anyone on the path can impersonate this server`);
    }
    let res = await this.propfind('', true, '0');
    let rootCreated = false;
    if (res.status === 404 || res.status === 409) {
      await this.createRoot(options.rootExisted === true);
      rootCreated = true;
      res = await this.propfind('', true, '0');
    }
    if (res.status !== 207) throw statusError('connect', '', res.status, `opening the target root ${this.displayName}`);
    const self = parseMultistatus(res.text)[0];
    if (self !== undefined && !self.collection) throw new TargetError('E_CONFIG', `${this.displayName}: the target root exists but is not a collection (a directory)`);
    this.traits ??= await this.probeServer();
    return { rootCreated };
  }

  /**
   * MKCOL from the top down; what already exists answers 405 (or 301 without a slash). A root
   * that existed before (`rootExisted`) is created again only by itself: a missing parent is
   * waited for (E_ROOT_GONE), not made.
   */
  private async createRoot(rootExisted: boolean): Promise<void> {
    const segs = this.s.rootSegments;
    for (let i = rootExisted ? Math.max(1, segs.length) : 1; i <= segs.length; i++) {
      const path = requestPath(segs.slice(0, i), '', true);
      const res = await this.client.send({ method: 'MKCOL', path, about: '' });
      if (ok(res.status) || res.status === 405 || res.status === 301) continue;
      if (rootExisted && (res.status === 409 || res.status === 404 || res.status === 403)) {
        throw new TargetError('E_ROOT_GONE', `the target root ${this.displayName} is gone and cannot be created again (is its parent collection gone too?): waiting for it to come back`, { path: '' });
      }
      throw statusError('connect', '', res.status, `creating the target root ${this.displayName} (at ${path})`);
    }
  }

  /**
   * What this server does, found by trying once per target (the probes carry temp names,
   * which the engine never mirrors, lists as extra or deletes as ours; they are removed here):
   *   - how it keeps mtimes: a file is PUT with X-OC-Mtime, then given a PROPPATCH, and read
   *     back each time; neither took: "none";
   *   - whether DELETE honours `Depth: 0` on a collection (Apache and nginx refuse it with
   *     400; rclone removes the whole tree): if not, `remove` looks before it deletes.
   * A failed probe means the cautious answer; it never fails a connect that would work.
   */
  private async probeServer(): Promise<ServerTraits> {
    const token = () => randomBytes(3).toString('hex');
    const file = `.mtime-probe.sync-inotify-${token()}.tmp`;
    const dir = `.depth-probe.sync-inotify-${token()}.tmp`;
    let mtime: MtimeMode = 'none';
    let deleteIgnoresDepth = true;
    try {
      const want = Date.UTC(2020, 0, 2, 3, 4, 5);
      const matches = async () => {
        const m = await this.statMember(file);
        return m?.mtimeMs !== undefined && Math.abs(m.mtimeMs - want) < 1000;
      };
      const put = await this.client.send({ method: 'PUT', path: this.req(file, false), headers: { 'x-oc-mtime': String(want / 1000) }, body: () => 'x', length: 1, about: file });
      if (ok(put.status)) {
        if (await matches()) {
          mtime = 'x-oc-mtime';
        } else if (await this.proppatchMtime(file, want)) {
          if (await matches()) mtime = 'proppatch';
        }
      }
      const made = await this.client.send({ method: 'MKCOL', path: this.req(dir, true), about: dir });
      if (ok(made.status)) {
        const del = await this.deleteFile(dir);
        deleteIgnoresDepth = ok(del.status);
      }
    } catch (err) {
      if (err instanceof TargetError && err.scope === 'pause') throw err;
    } finally {
      await this.deleteFile(file).catch(() => undefined);
      await this.client.send({ method: 'DELETE', path: this.req(dir, true), headers: { depth: 'infinity' }, about: dir }).catch(() => undefined);
    }
    return { mtime, deleteIgnoresDepth };
  }

  /** PROPPATCH getlastmodified; true when the server says it set it. */
  private async proppatchMtime(path: string, mtimeMs: number): Promise<boolean> {
    const body = proppatchMtimeBody(mtimeMs);
    const res = await this.client.send({
      method: 'PROPPATCH',
      path: this.req(path, false),
      headers: { 'content-type': 'application/xml; charset=utf-8' },
      body: () => body,
      length: Buffer.byteLength(body),
      readBody: true,
      about: path,
    });
    if (res.status !== 207) return ok(res.status);
    const member = parseMultistatus(res.text)[0];
    return member !== undefined && member.failedProps.size === 0 && (member.status === undefined || ok(member.status));
  }

  prewarm(): void {
    this.client.prewarm(this.req('', true));
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  // ---- reading ----------------------------------------------------------------------------

  /** PROPFIND Depth 0 of a path of unknown kind: undefined when nothing is there. */
  private async statMember(path: string): Promise<DavMember | undefined> {
    if (path === '') {
      const res = await this.propfind('', true, '0');
      // The root removed behind our back: missing, like any other path (the engine then
      // treats it as a vanished root, see TargetSync).
      if (res.status === 404 || res.status === 409) return undefined;
      if (res.status !== 207) throw this.fail('stat', path, res);
      return parseMultistatus(res.text)[0];
    }
    let res = await this.propfind(path, false, '0');
    // A collection asked for without its slash: some servers redirect to the slashed form.
    if (res.status === 301 || res.status === 302 || res.status === 308) res = await this.propfind(path, true, '0');
    if (res.status === 404 || res.status === 409) return undefined;
    if (res.status !== 207) throw this.fail('stat', path, res);
    const member = parseMultistatus(res.text)[0];
    if (member === undefined || (member.status !== undefined && member.status === 404)) return undefined;
    return member;
  }

  private async kindOf(path: string): Promise<'file' | 'dir' | undefined> {
    const m = await this.statMember(path);
    return m === undefined ? undefined : m.collection ? 'dir' : 'file';
  }

  private entry(path: string, m: DavMember): RemoteEntry {
    const kind = m.collection ? 'dir' : 'file';
    return {
      path,
      kind,
      size: kind === 'file' ? (m.size ?? 0) : 0,
      // Only a server that keeps our mtimes reports one worth comparing with the source's.
      ...(this.caps.preservesMtime && m.mtimeMs !== undefined ? { mtimeMs: m.mtimeMs } : {}),
    };
  }

  async stat(path: string): Promise<RemoteEntry | undefined> {
    const m = await this.statMember(path);
    return m === undefined ? undefined : this.entry(path, m);
  }

  async list(dir: string): Promise<RemoteEntry[]> {
    const res = await this.propfind(dir, true, '1');
    if (res.status !== 207) throw this.fail('list', dir, res);
    const out: RemoteEntry[] = [];
    let self: DavMember | undefined;
    for (const m of parseMultistatus(res.text)) {
      const rel = relativeFromHref(this.s.rootSegments, m.href);
      if (rel === undefined) continue;
      if (rel === dir) {
        self = m;
        continue;
      }
      // Only direct children with names we can carry back (a server's odd href is skipped).
      if (parentOf(rel) !== dir || !isSafeRelativePath(rel)) continue;
      out.push(this.entry(rel, m));
    }
    if (self !== undefined && !self.collection) throw new TargetError('E_NOT_FOUND', `list ${JSON.stringify(dir)}: not a directory`, { path: dir });
    return out;
  }

  // ---- writing ----------------------------------------------------------------------------

  async put(path: string, source: PutSource, options: PutOptions): Promise<void> {
    const writeTo = options.tempPath ?? path;
    // Looked at while the bytes travel: what is at the final name decides whether MOVE may
    // overwrite it (a file: yes; a collection: never).
    const inTheWay = options.tempPath === undefined ? undefined : this.kindOf(path);
    inTheWay?.catch(() => undefined);
    const mode = this.traits?.mtime ?? 'none';
    const seconds = Math.floor(source.mtimeMs / 1000);
    const res = await this.client.send({
      method: 'PUT',
      path: this.req(writeTo, false),
      headers: { 'content-type': 'application/octet-stream', ...(mode === 'x-oc-mtime' ? { 'x-oc-mtime': String(seconds) } : {}) },
      body: () => source.buffer ?? exactLength(source.open(), source.size),
      length: source.size,
      about: path,
    });
    if (!ok(res.status)) throw await this.failWrite('put', path, res);
    try {
      if (mode === 'proppatch' && !(await this.proppatchMtime(writeTo, source.mtimeMs))) {
        throw new TargetError('E_PROTOCOL', `put ${JSON.stringify(path)}: the server refused to set the mtime (PROPPATCH)`, { path });
      }
      if (options.tempPath === undefined) return;
      if ((await inTheWay) === 'dir') throw new TargetError('E_EXISTS', `put ${JSON.stringify(path)}: a directory is in the way`, { path });
      const moved = await this.move(options.tempPath, path, false, true);
      if (!ok(moved.status)) throw await this.failWrite('move', path, moved);
    } catch (err) {
      // Best effort: the engine also journals temp names and removes them at start.
      if (options.tempPath !== undefined) await this.deleteFile(options.tempPath).catch(() => undefined);
      throw err;
    }
  }

  private move(from: string, to: string, collection: boolean, overwrite: boolean): Promise<DavResponse> {
    return this.client.send({
      method: 'MOVE',
      path: this.req(from, collection),
      headers: { destination: this.destination(to, collection), overwrite: overwrite ? 'T' : 'F' },
      about: from,
    });
  }

  async mkdir(path: string): Promise<void> {
    const res = await this.client.send({ method: 'MKCOL', path: this.req(path, true), about: path });
    if (ok(res.status)) return;
    // Something is there: 405 (RFC 4918), 301 (a redirect to the slashed form), 400 or 409
    // (Apache, nginx: MKCOL of `file/` when a file has that name).
    if (res.status === 405 || res.status === 301 || res.status === 400 || res.status === 409) {
      return settleRefusal({ op: 'mkdir', path, kindAt: () => this.kindOf(path), refusal: () => this.failWrite('mkdir', path, res) });
    }
    throw await this.failWrite('mkdir', path, res);
  }

  private deleteFile(path: string): Promise<DavResponse> {
    return this.client.send({ method: 'DELETE', path: this.req(path, false), headers: { depth: '0' }, about: path });
  }

  async remove(path: string): Promise<void> {
    if (this.traits?.deleteIgnoresDepth !== false) {
      // DELETE would take a whole collection: look first (the same verdict as after a refusal).
      const kind = await this.kindOf(path);
      if (verdictAfterRefusal('remove', kind) === 'done') return;
      if (kind === 'dir') throw new TargetError('E_EXISTS', `remove ${JSON.stringify(path)}: a directory is in the way`, { path });
    }
    const res = await this.deleteFile(path);
    if (ok(res.status) && res.status !== 207) return;
    if (res.status === 404) return;
    if (res.status === 400 || res.status === 409) {
      // Depth 0 on a collection (or a collection without its slash): not ours to remove here.
      return settleRefusal({ op: 'remove', path, kindAt: () => this.kindOf(path), refusal: () => this.fail('delete', path, res) });
    }
    throw this.fail('delete', path, res);
  }

  async rmdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    if (path === '') throw new TargetError('E_PERMISSION', 'refusing to remove the target root', { path });
    if (!options.recursive) {
      let children: RemoteEntry[];
      try {
        children = await this.list(path);
      } catch (err) {
        if (err instanceof TargetError && err.code === 'E_NOT_FOUND') return;
        throw err;
      }
      if (children.length > 0) throw new TargetError('E_NOT_EMPTY', `rmdir ${JSON.stringify(path)}: directory not empty`, { path });
    }
    const res = await this.client.send({ method: 'DELETE', path: this.req(path, true), headers: { depth: 'infinity' }, about: path });
    if ((ok(res.status) && res.status !== 207) || res.status === 404) return;
    throw this.fail('delete', path, res);
  }

  async rename(from: string, to: string): Promise<void> {
    const [kind, target] = await Promise.all([this.kindOf(from), this.kindOf(to)]);
    if (kind === undefined) throw new TargetError('E_NOT_FOUND', `rename ${JSON.stringify(from)}: no such file or directory`, { path: from });
    if (target !== undefined && (kind === 'dir' || target === 'dir')) {
      throw new TargetError('E_EXISTS', `rename ${JSON.stringify(from)} to ${JSON.stringify(to)}: a ${target === 'dir' ? 'directory' : 'file'} is in the way`, { path: from });
    }
    const res = await this.move(from, to, kind === 'dir', kind === 'file');
    if (ok(res.status) && res.status !== 207) return;
    throw await this.failWrite('move', from, res);
  }
}
