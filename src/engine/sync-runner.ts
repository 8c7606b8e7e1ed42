/**
 * Builds and runs everything a configuration describes: per sync one scanner and one watcher,
 * per target one TargetSync. The watcher fans hints out to every target of its sync.
 */
import { accessSync, constants, lstatSync, statSync } from 'node:fs';
import { relative, resolve, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quotePath } from '../core/names.ts';
import { createPathFilter, type PathFilter } from '../core/filter.ts';
import { parseMaxDelete } from '../core/safety.ts';
import { formatRate, isUnlimited, parseBwlimit } from '../core/bwlimit.ts';
import type { Drift } from '../core/drift.ts';
import type { Scope } from '../core/scope.ts';
import type { Op } from '../core/ops.ts';
import { ConfigError } from '../config/errors.ts';
import type { ConfigFile, SyncConfig } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { Store } from '../state/store.ts';
import { createTarget, parseTargetUrl } from '../targets/registry.ts';
import { isTargetError } from '../targets/errors.ts';
import type { Watcher } from '../watch/watcher.ts';
import { createWatcher } from '../watch/choose-watcher.ts';
import { Scanner } from './scanner.ts';
import { TargetSync, type CycleResult, type TargetStatus } from './target-sync.ts';
import type { ProgressView } from './progress.ts';

export const DEFAULT_DEBOUNCE_MS = 20;
export const DEFAULT_DEBOUNCE_MAX_MS = 1_000;
export const DEFAULT_RESCAN_SEC = 600;

interface RunningSync {
  readonly config: SyncConfig;
  readonly scanner: Scanner;
  /** The scanner's path filter; the native watcher skips directories it excludes. */
  readonly filter: PathFilter;
  readonly targets: TargetSync[];
  watcher?: Watcher;
  /** `dev:ino` of the source root the watcher walked (undefined: it was missing). */
  watchedRoot?: string | undefined;
}

const FULL: Scope[] = [{ path: '', deep: true }];

export interface RunnerOptions {
  /**
   * Dry run (README: Dry run): every target hands its planned operations here (with the
   * target's name) instead of carrying them out, and is never contacted.
   */
  readonly dryRun?: (target: string, op: Op) => void;
  /** Where each target shows the progress of long work (a terminal: service/progress-line.ts), by its label. */
  readonly progress?: (label: string) => ProgressView;
}
const ONCE_ROUNDS = 5;

export class SyncRunner {
  private readonly syncs: RunningSync[] = [];
  private rescanTimer: NodeJS.Timeout | undefined;
  private rootTimer: NodeJS.Timeout | undefined;
  private verifyTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: ConfigFile,
    store: Store,
    statePath: string,
    private readonly logger: Logger,
    private readonly options: RunnerOptions = {},
  ) {
    for (const sc of config.syncs) {
      const source = resolve(sc.source);
      checkSource(source);
      const stateRel = relative(source, statePath);
      const alwaysExcluded = stateRel.startsWith('..') || isAbsolute(stateRel) ? [] : [stateRel, `${stateRel}-wal`, `${stateRel}-shm`, `${stateRel}-journal`];
      const filter = createPathFilter({ exclude: sc.exclude ?? [], include: sc.include ?? [], ignoreEditorFiles: sc.ignoreEditorFiles ?? true, alwaysExcluded });
      const scanner = new Scanner({
        root: source,
        filter,
        types: { fileTypes: sc.fileTypes ?? [], extensions: sc.extensions ?? [] },
      });
      const maxDelete = sc.maxDelete === undefined ? undefined : parseMaxDelete(sc.maxDelete);
      const targets = sc.targets.map((spec) => {
        checkTargetOutsideSource(spec.url, source);
        let target;
        try {
          target = createTarget(spec);
        } catch (err) {
          if (isTargetError(err) && err.code === 'E_CONFIG') throw new ConfigError(err.message);
          throw err;
        }
        const bw = spec.bwlimit === undefined ? undefined : parseBwlimit(spec.bwlimit);
        if (bw && !bw.ok) throw new ConfigError(`target ${target.displayName}: bwlimit: ${bw.message}`);
        const bwlimit = bw?.ok && !isUnlimited(bw.schedule) ? bw.schedule : undefined;
        if (bwlimit) logger.info(`${target.displayName}: uploads limited to ${bwlimit.length === 1 ? formatRate(bwlimit[0]!.rate) : `${bwlimit.map((e) => `${String(Math.floor(e.atMinute / 60)).padStart(2, '0')}:${String(e.atMinute % 60).padStart(2, '0')} ${formatRate(e.rate)}`).join(', ')}`} (all its connections together)`);
        return new TargetSync({
          sourceRoot: source,
          target,
          store,
          scanner,
          logger: config.syncs.length * sc.targets.length > 1 ? logger.child(`[${target.displayName}] `) : logger,
          concurrency: target.maxInFlight,
          debounceMs: config.debounceMs ?? DEFAULT_DEBOUNCE_MS,
          debounceMaxMs: config.debounceMaxMs ?? DEFAULT_DEBOUNCE_MAX_MS,
          ...(maxDelete ? { maxDelete } : {}),
          recursiveRemove: (sc.deleteExtraneous ?? false) && target.caps.fastRecursiveRemove,
          ...(options.progress ? { progress: options.progress(config.syncs.length > 1 ? `${source} → ${target.displayName}` : target.displayName) } : {}),
          ...(bwlimit ? { bwlimit } : {}),
          ...(options.dryRun ? { dryRun: (op: Op) => options.dryRun!(target.displayName, op) } : {}),
        });
      });
      this.syncs.push({ config: sc, scanner, filter, targets });
    }
  }

  get targets(): TargetSync[] {
    return this.syncs.flatMap((s) => s.targets);
  }

  /** Daemon mode: watch first (so nothing is missed), then reconcile everything. */
  async watch(): Promise<void> {
    for (const s of this.syncs) {
      await this.startWatcher(s);
      this.logger.info(`watching ${s.config.source} → ${s.targets.map((t) => t.name).join(', ')}`);
      this.hintAll(s, FULL);
    }
    const verifyEvery = this.config.verifyIntervalSec ?? 0;
    if (verifyEvery > 0) {
      // Drift made behind our back (files removed or rewritten on the target, its root gone
      // while nothing changed here): the whole target is listed and repaired.
      this.verifyTimer = setInterval(() => {
        for (const t of this.targets) {
          t.requestVerify();
          t.hint(FULL);
        }
      }, verifyEvery * 1000);
      this.verifyTimer.unref();
    }
    const every = this.config.rescanIntervalSec ?? DEFAULT_RESCAN_SEC;
    if (every > 0) {
      // The backstop for anything a watcher could miss: a full local reconcile (no remote listing).
      this.rescanTimer = setInterval(() => {
        for (const t of this.targets) t.hint(FULL);
      }, every * 1000);
      this.rescanTimer.unref();
    }
    // The source root itself: unmounted, removed, replaced, mounted again. A mount over the
    // watched directory sends no inotify event, so it is looked at on a timer. The timer is
    // not unref'd: a daemon whose source went away keeps running (halted by the safety gates)
    // until it is back or stopped, instead of ending with nothing left to wait for.
    this.rootTimer = setInterval(() => void this.checkRoots(), ROOT_CHECK_MS);
  }

  /** Every target has ended its first cycle since watch(): the start's reconcile is done. */
  async firstReconcile(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.firstCycle));
  }

  private hintAll(s: RunningSync, scopes: Scope[]): void {
    for (const t of s.targets) t.hint(scopes);
  }

  private async startWatcher(s: RunningSync): Promise<void> {
    const callbacks = {
      onHints: (scopes: Scope[]) => this.hintAll(s, scopes),
      onLost: (reason: string) => {
        this.logger.warn(`${reason}: rescanning ${s.config.source}`);
        this.hintAll(s, FULL);
      },
      onNote: (message: string) => this.logger.info(message),
    };
    const root = resolve(s.config.source);
    s.watchedRoot = rootIdentity(root);
    if (s.watchedRoot === undefined) return; // nothing to watch until it is back (checkRoots)
    // Which watcher: watch/choose-watcher.ts (the inotify binding, else fs.watch; or nsfw).
    const { watcher, which } = await createWatcher(this.config.watcher ?? 'native', root, callbacks, s.filter);
    s.watcher = watcher;
    this.logger.info(which);
    await s.watcher.start();
  }

  /** Watches a source root afresh when it is another directory than the one watched. */
  private async checkRoots(): Promise<void> {
    for (const s of this.syncs) {
      const now = rootIdentity(resolve(s.config.source));
      if (now === s.watchedRoot) continue;
      await s.watcher?.stop().catch(() => undefined);
      s.watcher = undefined;
      if (now === undefined) {
        this.logger.warn(`source ${s.config.source} is gone (unmounted or removed): nothing is deleted on the targets; watching for it every ${ROOT_CHECK_MS / 1000} s`);
        s.watchedRoot = undefined;
      } else {
        this.logger.info(`source ${s.config.source} is ${s.watchedRoot === undefined ? 'back' : 'another folder now (mounted, or replaced)'}: watching it again`);
        try {
          await this.startWatcher(s);
        } catch (err) {
          this.logger.error(`cannot watch ${s.config.source}: ${(err as Error).message}; trying again in ${ROOT_CHECK_MS / 1000} s`);
          s.watchedRoot = undefined;
        }
      }
      // The safety gates decide what the new state of the source means for each target.
      this.hintAll(s, FULL);
    }
  }

  /** `allow-delete`: every target halted by a safety gate carries out its deletes once. */
  allowDeletes(): string[] {
    return this.targets.filter((t) => t.allowDeletes()).map((t) => t.name);
  }

  /**
   * One full reconcile per target; repeats (up to 5 rounds) while operations did not finish
   * (changed during upload, blocked by a failure) or the target was not as the store said.
   * `ok`: every target converged: no operation failed (a name the target refused, a
   * permission denied, …), nothing was halted or unreadable. A round that leaves only
   * failures nothing retries (E_NAME) is the last.
   *
   * It verifies what it claims: after each plan, the root and every directory the plan
   * touched are listed and compared with the store (TargetSync.verify: a list per directory);
   * drift is corrected in the store and repaired by the next round. With `verifyAll`, the
   * whole target is listed first, so drift made behind our back anywhere (files deleted or
   * rewritten there) is repaired too. Drift still there after the last round is named and
   * makes the result not ok. `allowDelete`: the operator confirmed deletes a gate refuses.
   */
  async once(options: { allowDelete?: boolean; verifyAll?: boolean } = {}): Promise<{ ok: boolean; results: CycleResult[] }> {
    const outcomes = await Promise.all(
      this.targets.map(async (t) => {
        t.disableRenameGrace();
        if (options.allowDelete === true) t.confirmDeletesNextCycle();
        if (this.options.dryRun) {
          // The plan once: nothing is carried out, so there is nothing to verify or repeat.
          const last = await t.cycle(FULL);
          return { last, converged: !last.halted && !last.targetError };
        }
        if (options.verifyAll) t.requestVerify();
        let last: CycleResult = { ops: 0, failed: 0, problems: [] };
        let drift: Drift[] = [];
        for (let round = 0; round < ONCE_ROUNDS; round++) {
          last = await t.cycle(FULL);
          if (last.targetError || last.halted) break;
          try {
            drift = await t.verify(['', ...(last.touched ?? [])]);
          } catch (err) {
            last = { ...last, targetError: err as Error };
            break;
          }
          // Every planned operation finished and the target holds what the store says: the
          // target now matches what was scanned, and another full scan would only confirm it
          // (doubling the time of a push).
          if (drift.length === 0 && last.failed === 0 && (last.unfinished ?? 0) === 0) return { last, converged: true };
          if (drift.length === 0 && (last.unfinished ?? 0) === 0 && last.failed > 0) break; // only refusals left: another round is refused too
        }
        for (const d of drift) this.logger.error(`${t.name}: ${quotePath(d.path)}: ${d.detail}, and could not be repaired`);
        return { last, converged: false };
      }),
    );
    const ok = outcomes.every((o) => o.converged && !o.last.problems.some((p) => p.code === 'UNREADABLE'));
    return { ok, results: outcomes.map((o) => o.last) };
  }

  async whenIdle(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.whenIdle()));
  }

  /** Per source: inotify watches held now (0 while its root is gone; undefined: nsfw cannot tell). */
  watchCounts(): { source: string; watches: number | undefined }[] {
    return this.syncs.map((s) => ({ source: resolve(s.config.source), watches: s.watchedRoot === undefined ? 0 : s.watcher?.watchCount?.() }));
  }

  status(): TargetStatus[] {
    return this.targets.map((t) => t.status());
  }

  async stop(): Promise<void> {
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.rootTimer) clearInterval(this.rootTimer);
    if (this.verifyTimer) clearInterval(this.verifyTimer);
    await Promise.all(this.syncs.map((s) => s.watcher?.stop()));
    await Promise.all(this.targets.map((t) => t.stop()));
  }
}

/** How often a watching daemon looks at each source root (see watch()). */
const ROOT_CHECK_MS = 2_000;

/** `dev:ino` of a directory, undefined when it is missing or not a directory. */
function rootIdentity(path: string): string | undefined {
  try {
    const st = lstatSync(path, { bigint: true });
    return st.isDirectory() ? `${st.dev}:${st.ino}` : undefined;
  } catch {
    return undefined;
  }
}

function checkSource(source: string): void {
  let st;
  try {
    st = statSync(source);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? `source ${source} does not exist: create it or fix "source"` : `source ${source} cannot be read (${code}): check its permissions`);
  }
  if (!st.isDirectory()) throw new ConfigError(`source ${source} is not a directory: point "source" at a folder`);
  try {
    accessSync(source, constants.R_OK | constants.X_OK);
  } catch {
    throw new ConfigError(`source ${source} cannot be read: check its permissions (the daemon needs read and execute)`);
  }
}

function checkTargetOutsideSource(url: string, source: string): void {
  let parsed: URL;
  try {
    parsed = parseTargetUrl(url);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (parsed.protocol !== 'file:') return;
  const dest = fileURLToPath(parsed);
  const inside = (a: string, b: string) => {
    const r = relative(b, a);
    return r === '' || (!r.startsWith('..') && !isAbsolute(r));
  };
  if (inside(dest, source) || inside(source, dest)) {
    throw new ConfigError(`target ${dest} and source ${source} overlap: the mirror would copy itself; choose a folder outside the source`);
  }
}
