/**
 * One source folder mirrored to one target: its own dirty set, debounce, cycles, backoff and
 * health, so a slow or dead target never holds back the others.
 *
 * A cycle: take the dirty scopes → widen them to known parents → scan the source there and
 * load the store there → hash racy files → plan → safety gates → execute → commit each op.
 * Paths that could not be finished go back into the dirty set (with backoff when the target
 * failed), so nothing is lost while a burst is in flight or a server is down.
 */
import { lstat } from 'node:fs/promises';
import { quotePath, toFsPath } from '../core/names.ts';
import { join } from 'node:path';
import { isRacy, isUncertain, RACY_WINDOW_MS, sameFingerprint, uncertainFile, type KnownEntry, type LocalEntry } from '../core/entry.ts';
import { findDrift, type Drift } from '../core/drift.ts';
import { flushDelay, unsettledPaths, type PathHintTimes } from '../core/debounce.ts';
import { countRemovals, describeOp, type Op, type Problem, type PutOp } from '../core/ops.ts';
import { isAtOrUnder, parentOf } from '../core/paths.ts';
import { plan } from '../core/plan.ts';
import { CreationPlanner, DEFAULT_STAGING } from '../core/plan-creations.ts';
import { announceFailure, backoffDelay, PAUSED_RETRY, TARGET_RETRY } from '../core/retry.ts';
import { checkSafety, probeChanged, type GateCode, type MaxDelete, type SafetyVerdict, type SourceRootProbe } from '../core/safety.ts';
import { needsDeepScan, normalizeScopes, widenScope, type Scope } from '../core/scope.ts';
import { formatBytes, type Logger } from '../log/logger.ts';
import { GroupCommit } from '../state/group-commit.ts';
import type { Store } from '../state/store.ts';
import { isTargetError, TargetError } from '../targets/errors.ts';
import type { RemoteEntry, Target } from '../targets/target.ts';
import { walkTarget } from '../targets/walk.ts';
import { MkdirIntents, renameHappened } from './intents.ts';
import { applyOp } from './apply-op.ts';
import { Executor, isOpList, type OpFeed } from './executor.ts';
import { recoverStagedDir, StagedDirs } from './staged-dirs.ts';
import { TempReservations } from './temp-journal.ts';
import { adoptRemote } from './adopt.ts';
import { emptyScan, type Scanner, type ScanResult } from './scanner.ts';
import { hashFile } from '../io/hash-file.ts';

export type TargetState = 'starting' | 'ok' | 'retrying' | 'paused' | 'halted' | 'stopped';

export interface TargetSyncOptions {
  readonly sourceRoot: string;
  readonly target: Target;
  readonly store: Store;
  readonly scanner: Scanner;
  readonly logger: Logger;
  readonly concurrency: number;
  readonly debounceMs: number;
  readonly debounceMaxMs: number;
  readonly maxDelete?: MaxDelete;
  readonly recursiveRemove: boolean;
  /** Output goes to a terminal: show progress on long work. */
  readonly interactive?: boolean;
}

export interface TargetStatus {
  readonly target: string;
  readonly state: TargetState;
  readonly reason?: string;
  readonly queued: number;
  readonly inFlight: number;
  readonly filesSent: number;
  readonly bytesSent: number;
  readonly opsDone: number;
  /** Age in ms of the oldest change not yet on the target (0 when idle). */
  readonly lagMs: number;
  readonly lastError?: { message: string; at: string };
  readonly problems: number;
}

export interface CycleResult {
  readonly ops: number;
  readonly failed: number;
  /** Operations not finished and queued again (changed during upload, blocked by a failure). */
  readonly unfinished?: number;
  readonly problems: Problem[];
  /** Operations that failed in this cycle, each with its path and why (for `once`'s summary). */
  readonly failures?: readonly { readonly path: string; readonly message: string }[];
  readonly halted?: string;
  readonly targetError?: Error;
  /**
   * Directories whose entries the cycle's operations changed on the target (a `once` lists
   * them afterwards to verify what it claims; see verify()).
   */
  readonly touched?: readonly string[];
}

interface DirtyPath extends PathHintTimes {
  readonly deep: boolean;
}

export class TargetSync {
  /**
   * Dirty paths: deep or not, and when they were hinted (see unsettledPaths). A path put back
   * after a failure keeps the times it had, or gets 0: settled.
   */
  private readonly dirty = new Map<string, DirtyPath>();
  private firstHintAt = 0;
  private lastHintAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private executor: Executor | undefined;
  /** Target-wide failures in a row; reset only when a cycle succeeds (see recovered). */
  private failures = 0;
  /** The code of the last target-wide failure, to log a new kind of failure once. */
  private failureCode: string | undefined;
  /** Hold vanished paths for the other half of a rename (a watcher is running). */
  private renameGrace = true;
  /** Vanished paths whose removal was held, and when (see holdVanished). */
  private readonly held = new Map<string, number>();
  private pathFailureRounds = 0;
  private pausedUntil = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  readonly targetId: number;
  state: TargetState = 'starting';
  reason: string | undefined;
  private counters = { filesSent: 0, bytesSent: 0, opsDone: 0, inFlight: 0 };
  private lastError: { message: string; at: string } | undefined;
  private problemCount = 0;
  /** While halted by a safety gate: which gate, and the source root as it was then. */
  private halted: { code: GateCode; probe: SourceRootProbe; hinted: boolean } | undefined;
  /** The operator confirmed the deletes a gate refused (`allow-delete`, `once --allow-delete`). */
  private deletesConfirmed = false;

  private readonly commits: GroupCommit;
  /** The next cycle starts with a full verification of the target (verify('all')). */
  private verifyDue = false;
  /** The root vanished and that was logged (once, not at every retry). */
  private rootGoneLogged = false;
  /** Settled when the first cycle has ended, whatever its outcome, or at stop (see firstCycle). */
  private firstCycleEnded!: () => void;
  /**
   * The first cycle (the start's reconcile) has ended: in sync, retrying, paused or halted.
   * A daemon under systemd reports READY=1 then (src/service/systemd-notify.ts).
   */
  readonly firstCycle = new Promise<void>((resolve) => (this.firstCycleEnded = resolve));

  constructor(private readonly o: TargetSyncOptions) {
    this.commits = new GroupCommit(o.store);
    this.targetId = o.store.targetId(`${o.sourceRoot}\n${o.target.displayName}`);
  }

  get name(): string {
    return this.o.target.displayName;
  }

  get target(): Target {
    return this.o.target;
  }

  get sourceRoot(): string {
    return this.o.sourceRoot;
  }

  get scanner(): Scanner {
    return this.o.scanner;
  }

  status(): TargetStatus {
    return {
      target: this.name,
      state: this.state,
      ...(this.reason !== undefined ? { reason: this.reason } : {}),
      queued: this.dirty.size,
      inFlight: this.counters.inFlight,
      filesSent: this.counters.filesSent,
      bytesSent: this.counters.bytesSent,
      opsDone: this.counters.opsDone,
      lagMs: this.dirty.size > 0 || this.running ? Date.now() - (this.firstHintAt || Date.now()) : 0,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      problems: this.problemCount,
    };
  }

  /** One-shot reconciles (`once`) have no watcher to wait for: decide every removal at once. */
  disableRenameGrace(): void {
    this.renameGrace = false;
  }

  /** Marks paths dirty; a cycle follows after the debounce window. */
  hint(scopes: readonly Scope[]): void {
    if (this.stopped) return;
    const now = Date.now();
    if (this.dirty.size === 0) this.firstHintAt = now;
    this.lastHintAt = now;
    for (const s of scopes) {
      const was = this.dirty.get(s.path);
      this.dirty.set(s.path, { deep: (was?.deep ?? false) || s.deep, first: was?.first || now, last: now });
    }
    this.o.logger.debug(`hint: ${scopes.length} path(s), first ${quotePath(scopes[0]?.path ?? '')}; ${this.dirty.size} dirty`);
    if (this.halted) this.halted.hinted = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.running || this.dirty.size === 0) return;
    // Halted: a timer re-checks (missing source) or the operator must act (maxDelete).
    if (this.state === 'halted') return;
    const now = Date.now();
    const wait = Math.max(flushDelay(now, { firstHintAt: this.firstHintAt, lastHintAt: this.lastHintAt }, this.o.debounceMs, this.o.debounceMaxMs), this.pausedUntil - now);
    this.flushIn(wait);
  }

  /** (Re)arms the one flush timer. */
  private flushIn(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }

  private async flush(): Promise<void> {
    if (this.running || this.stopped) return;
    if (this.halted && !this.deletesConfirmed && !this.halted.hinted) {
      // Halted: plan again (a full scan) only when the source root changed since the halt;
      // a look at the root costs one stat and one listing.
      const now = await this.o.scanner.probeRoot();
      if (this.halted && !probeChanged(this.halted.probe, now)) return this.flushIn(HALT_RECHECK_MS);
    }
    // A flush forced by debounceMaxMs in the middle of a burst leaves out the paths still
    // being written; they stay dirty for the next flush (see unsettledPaths).
    const now = Date.now();
    const unsettled = unsettledPaths(this.dirty, now, this.o.debounceMs, this.o.debounceMaxMs);
    const scopes = [...this.dirty].filter(([path]) => !unsettled.paths.has(path)).map(([path, { deep }]) => ({ path, deep }));
    if (scopes.length === 0) return this.flushIn(unsettled.settlesInMs);
    const batchStartedAt = this.firstHintAt;
    for (const s of scopes) this.dirty.delete(s.path);
    this.o.logger.debug(`cycle: ${scopes.length} dirty path(s), oldest ${now - batchStartedAt} ms old${unsettled.paths.size > 0 ? `; ${unsettled.paths.size} still being written, held` : ''}`);
    this.running = this.cycle(scopes, unsettled.paths).then(
      () => undefined,
      (err: unknown) => {
        this.o.logger.error(`cycle failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        this.requeue(scopes);
      },
    );
    await this.running;
    this.running = undefined;
    this.firstCycleEnded();
    if (this.dirty.size > 0) {
      // Changes that arrived during the cycle keep their age for the lag figure.
      this.firstHintAt = Math.min(this.firstHintAt || Date.now(), batchStartedAt || Date.now());
      this.schedule();
    } else {
      this.firstHintAt = 0;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private requeue(scopes: readonly Scope[]): void {
    if (this.dirty.size === 0) this.firstHintAt = Date.now();
    for (const s of scopes) {
      const was = this.dirty.get(s.path);
      this.dirty.set(s.path, { deep: (was?.deep ?? false) || s.deep, first: was?.first ?? 0, last: was?.last ?? 0 });
    }
  }

  /** Resolves when nothing is dirty and no cycle runs (tests, `once`). */
  whenIdle(): Promise<void> {
    if (!this.running && this.dirty.size === 0 && !this.timer) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private initialized = false;
  /** The temp journal holds leftovers to remove before the next plan (removeLeftovers). */
  private hasLeftovers = false;

  /**
   * Connects and removes temp files that an interrupted upload left (after a crash, or a
   * connection lost mid-transfer), and settles renames whose outcome was not recorded; on a
   * first run against this target, also adopts the files it already holds.
   *
   * A root that existed and is missing now was removed behind our back: it is created again
   * at once (unless its parent is gone too: connect rejects with E_ROOT_GONE and the target
   * waits) and nothing recorded is there any more, so the store forgets it all and the next
   * plan pushes everything again. A target whose records were distrusted (its root vanished,
   * and is back with whatever it holds) is verified against a full listing instead.
   */
  async start(): Promise<void> {
    const { store, target, logger } = this.o;
    const id = this.targetId;
    const unseen = store.isNewTarget(id);
    const hasRecords = store.count(id) > 0;
    const firstRun = !this.initialized && unseen && !hasRecords;
    const { rootCreated } = await target.connect({ bulk: firstRun, rootExisted: hasRecords || !unseen });
    this.rootGoneLogged = false;
    if (rootCreated && (hasRecords || !unseen)) {
      store.transaction(() => {
        store.deleteSubtree(id, '');
        for (const t of store.temps(id)) store.removeTemp(id, t.path);
        for (const r of store.renames(id)) store.removeRename(id, r.to);
        store.markTargetSeen(id);
      });
      logger.warn(`the target root was missing: created it again; the mirror is rebuilt`);
    }
    await this.removeLeftovers();
    for (const { from, to } of store.renames(id)) {
      // Sent before a crash or a lost reply: done when `from` is gone and `to` is there.
      const moved = await renameHappened(target, from, to, store.get(id, from)?.kind);
      store.transaction(() => {
        if (moved) store.moveSubtree(id, from, to);
        store.removeRename(id, to);
      });
      logger.debug(`rename ${quotePath(from)} -> ${quotePath(to)} of an interrupted run: ${moved ? 'done, recorded' : 'not done'}`);
    }
    if (unseen && hasRecords && !rootCreated) {
      // Distrusted records (the root vanished, and is back): what is still there is kept.
      await this.verify('all');
      this.o.target.prewarm?.();
      const adopted = await adoptRemote(target, this.o.scanner, store, id, { keepRecorded: true });
      if (adopted > 0) logger.info(`adopted ${adopted} entries already on the target`);
      store.markTargetSeen(id);
    } else if (firstRun) {
      // A first run against this target: likely a whole tree to send. The other
      // connections' handshakes then overlap the adoption listing, the scan and the plan
      // (a pool that opened them at connect, `bulk`, has nothing left to do here).
      target.prewarm?.();
      const adopted = await adoptRemote(target, this.o.scanner, store, id);
      if (adopted > 0) logger.info(`adopted ${adopted} entries already on the target`);
      store.markTargetSeen(id);
    }
    this.initialized = true;
    // Connecting is not recovering: a full disk accepts the connection and fails every
    // upload. After failures the target stays "retrying" until an operation succeeds.
    this.state = this.failures > 0 ? 'retrying' : 'ok';
  }

  /**
   * Removes what an interrupted upload left on the target: temp files and staged directories
   * journalled in the store (after a crash, a connection lost mid-transfer, or a removal the
   * target refused at the time, e.g. while it was read-only). Between cycles nothing is in
   * flight, so every journalled temp is a leftover. A path the target still refuses keeps its
   * journal entry for the next try; a target-wide failure rejects.
   */
  private async removeLeftovers(): Promise<void> {
    const { target, store, logger } = this.o;
    for (const { path: temp, finalPath, kind } of store.temps(this.targetId)) {
      try {
        if (kind === 'dir') {
          await recoverStagedDir(target, store, this.targetId, temp, finalPath, logger);
          continue;
        }
        await target.remove(temp);
      } catch (err) {
        if (isTargetError(err) && err.scope === 'path') {
          // A directory on the way that is a link now (targets/jail.ts) is worth a warning;
          // a refusal of the moment (read-only, permission) is retried quietly.
          const line = `leftover temp ${quotePath(temp)} left in place for now: ${err.message}`;
          if (err.code === 'E_LINK_IN_PATH') logger.warn(line);
          else logger.debug(line);
          continue;
        }
        throw err;
      }
      store.transaction(() => {
        store.removeTemp(this.targetId, temp);
        // The upload may have reached its final name before the crash without being recorded.
        // Record the path as "ours, content unknown": the next plan re-sends it if the source
        // still has it and removes it if not, instead of leaving an unknown file behind.
        if (finalPath !== '') store.upsert(this.targetId, uncertainFile(finalPath));
      });
      logger.debug(`removed leftover temp file ${quotePath(temp)}`);
    }
  }

  /** The next cycle lists the whole target first and repairs drift (`verify`, verifyIntervalSec). */
  requestVerify(): void {
    this.verifyDue = true;
  }

  /**
   * Lists `dirs` of the target (or all of it) and compares what is there with the store's
   * records of their entries (core/drift.ts). Drift is corrected in the store (a missing
   * entry is forgotten, a changed file becomes uncertain), so the next plan repairs it, and
   * returned. A directory that cannot be listed because it is gone is drift itself; a root
   * that is gone distrusts the whole store (see start()).
   */
  async verify(dirs: 'all' | readonly string[]): Promise<Drift[]> {
    const { store, target, logger } = this.o;
    const id = this.targetId;
    const startedAt = Date.now();
    const remote = new Map<string, RemoteEntry>();
    const listed = new Set<string>();
    const gone: Drift[] = [];
    if (dirs === 'all') {
      const all = await this.listOrGone('', () => walkTarget(target));
      if (all === undefined) return this.rootVanished();
      for (const e of all) remote.set(e.path, e);
      listed.add('');
      for (const e of all) if (e.kind === 'dir') listed.add(e.path);
    } else {
      const wanted = [...new Set(dirs)].filter((d) => d === '' || store.get(id, d)?.kind === 'dir');
      // As many listings in flight as the target has connections (a first push's `once`
      // lists every directory it made: this keeps that to a fraction of the push).
      const parallel = Math.max(1, Math.min(target.maxInFlight, VERIFY_PARALLEL));
      const queue = [...wanted];
      const worker = async () => {
        for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
          const entries = await this.listOrGone(d, () => target.list(d));
          if (entries === undefined) {
            if (d !== '' && !isUncertain(store.get(id, d)!)) gone.push({ path: d, kind: 'missing', detail: 'directory missing on the target' });
            continue;
          }
          listed.add(d);
          for (const e of entries) remote.set(e.path, e);
        }
      };
      await Promise.all(Array.from({ length: parallel }, worker));
      if (wanted.includes('') && !listed.has('')) return this.rootVanished();
    }
    const records = dirs === 'all' ? store.subtree(id, '') : [...listed].flatMap((d) => store.children(id, d));
    const listedDrift = findDrift(records, remote, listed, target.caps.preservesMtime);
    // A listing may leave entries out that are there (nginx's PROPFIND hides dot files): a
    // file missing from it is asked about once more before it counts as missing.
    const confirmed: Drift[] = [];
    for (const d of listedDrift) {
      const known = d.kind === 'missing' ? store.get(id, d.path) : undefined;
      // An object store keeps no empty directory (caps.implicitDirs): not there is as sent.
      if (known?.kind === 'dir' && target.caps.implicitDirs === true) continue;
      if (known?.kind === 'file' && !remote.has(d.path)) {
        const there = await target.stat(d.path);
        if (there?.kind === 'file' && there.size === known.size) continue;
      }
      confirmed.push(d);
    }
    const drift = [...gone, ...confirmed];
    logger.debug(`verified ${listed.size} director${listed.size === 1 ? 'y' : 'ies'} of the target in ${Date.now() - startedAt} ms: ${drift.length} entr${drift.length === 1 ? 'y' : 'ies'} not as sent`);
    if (drift.length === 0) return drift;
    await this.commits.write(() => {
      for (const d of drift) {
        if (d.kind === 'missing') store.deleteSubtree(id, d.path);
        else store.upsert(id, uncertainFile(d.path));
      }
    });
    for (const d of drift.slice(0, DRIFT_LINES)) logger.warn(`${quotePath(d.path)}: ${d.detail}, not as sent: repairing`);
    if (drift.length > DRIFT_LINES) logger.warn(`… and ${drift.length - DRIFT_LINES} more entries not as sent: repairing`);
    return drift;
  }

  /** `list` that reports a missing directory as undefined. */
  private async listOrGone<T>(dir: string, list: () => Promise<T>): Promise<T | undefined> {
    try {
      return await list();
    } catch (err) {
      if (isTargetError(err) && err.code === 'E_NOT_FOUND' && (dir !== '' || (await this.o.target.stat('')) === undefined)) return undefined;
      throw err;
    }
  }

  /**
   * The target root is gone: nothing the store records can be trusted any more. The store
   * says so durably (distrustTarget), so a restart verifies too, and the next start creates
   * the root again or waits for it (start()).
   */
  private rootVanished(): Drift[] {
    this.o.store.distrustTarget(this.targetId);
    this.state = 'retrying';
    if (!this.rootGoneLogged) this.o.logger.error(`the target root is gone: it is created again (or waited for) and the mirror rebuilt`);
    this.rootGoneLogged = true;
    return [{ path: '', kind: 'missing', detail: 'the target root is gone' }];
  }

  /**
   * Runs one cycle over `scopes` now (no debounce). Used for the startup reconcile and by
   * `once`; the daemon path goes through `hint`. Files at `unsettled` paths are not sent in
   * this cycle even when a deep scope finds them: they are still being written.
   */
  async cycle(scopes: readonly Scope[], unsettled: ReadonlySet<string> = new Set()): Promise<CycleResult> {
    const { store, scanner, logger } = this.o;
    if (this.state !== 'ok' && this.state !== 'halted') {
      try {
        // After a failure, start from a fresh connection.
        if (this.state !== 'starting') await this.o.target.close().catch(() => undefined);
        await this.start();
      } catch (err) {
        this.onTargetDown(err, scopes);
        return { ops: 0, failed: 0, problems: [], targetError: err as Error };
      }
    }
    if (this.hasLeftovers) {
      try {
        await this.removeLeftovers();
      } catch (err) {
        this.onTargetDown(err, scopes);
        return { ops: 0, failed: 0, problems: [], targetError: err as Error };
      }
      this.hasLeftovers = false;
    }
    if (this.verifyDue) {
      try {
        await this.verify('all');
        this.verifyDue = false;
      } catch (err) {
        this.onTargetDown(err, scopes);
        return { ops: 0, failed: 0, problems: [], targetError: err as Error };
      }
      if (this.state !== 'ok') {
        // The root is gone: the next cycle creates it again, or waits for it.
        this.onTargetDown(new TargetError('E_ROOT_GONE', 'the target root is gone', { path: '' }), [{ path: '', deep: true }]);
        return { ops: 0, failed: 0, problems: [], targetError: new TargetError('E_ROOT_GONE', 'the target root is gone', { path: '' }) };
      }
    }
    // A first push (the store knows nothing this target holds): plan while scanning.
    if (this.held.size === 0 && isWholeTree(scopes) && store.count(this.targetId) === 0) return this.firstPush(unsettled);
    // An uncertain directory may not exist on the target: a region's root is widened above it.
    const knownKind = (p: string) => {
      const k = store.get(this.targetId, p);
      return k && !isUncertain(k) ? k.kind : undefined;
    };
    const scan = emptyScan();
    const known = new Map<string, KnownEntry>();
    // Held vanished paths are looked at in every cycle until settled (holdVanished).
    const all = [...scopes, ...[...this.held.keys()].map((path) => ({ path, deep: true }))];
    const widened = normalizeScopes(normalizeScopes(all).map((s) => widenScope(s, knownKind)));
    for (const s of widened) await this.collect(s, scan, known);
    await this.hashRacy(scan.entries, known);

    const planFor = (keep: readonly string[]) =>
      plan({
        local: scan.entries,
        known,
        caps: { rename: this.o.target.caps.rename, symlinks: this.o.target.caps.symlinks },
        recursiveRemove: this.o.recursiveRemove,
        unreadable: [...scan.unreadable, ...keep],
      });
    let result = planFor([]);
    // The root gates see every removal the source implies, including those held back for a
    // rename below: otherwise a cycle would pass with the removals held, and the cycle that
    // releases them would be judged on a source that no longer looks unusual.
    const everyRemoval = result.ops;
    const confirmed = this.deletesConfirmed;
    this.deletesConfirmed = false;
    const held = confirmed ? [] : this.holdVanished(result.ops, scan.entries);
    if (held.length > 0) result = planFor(held);
    result = { ...result, ops: withoutUnsettledPuts(result.ops, unsettled) };
    const problems = [...scan.problems, ...result.problems];
    this.reportProblems(problems);

    const fullScan = widened.some((s) => s.path === '' && s.deep);
    const deletes = countRemovals(everyRemoval) > 0;
    const probe = deletes || fullScan ? await scanner.probeRoot() : undefined;
    if (deletes) {
      const verdict = this.gate(probe!, everyRemoval, result.ops);
      if (!verdict.ok) {
        if (!confirmed || verdict.code === 'SOURCE_GONE') {
          this.halt(verdict.code, verdict.reason, probe!);
          return { ops: 0, failed: 0, problems, halted: verdict.reason };
        }
        logger.warn(`deleting as the operator confirmed: ${verdict.reason.replace(/refusing to delete/, 'deleting')}`);
      }
    }
    if (this.state === 'halted') {
      logger.info(confirmed ? 'deletes confirmed by the operator: resuming' : 'the source is back: resuming');
      this.state = 'ok';
      this.reason = undefined;
      this.halted = undefined;
    }
    // This source root is the one mirrored from now on (a full look that passed the gates).
    if (fullScan && probe?.identity !== undefined && probe.identity !== store.sourceIdentity(this.targetId)) store.setSourceIdentity(this.targetId, probe.identity);
    if (result.ops.length === 0) {
      this.recovered(); // connected and nothing left to do
      return { ops: 0, failed: 0, problems };
    }
    return (await this.execute(result.ops, problems)).cycle;
  }

  /**
   * The first push to a target: nothing is known there, so there is nothing to rename, hash
   * or delete, and no safety gate can refuse (they guard deletions). The plan is made while
   * the tree is scanned (CreationPlanner), and its first batches are on their way while the
   * scan goes on. Directories that vanish before the scan reaches them are looked at again.
   */
  private async firstPush(unsettled: ReadonlySet<string>): Promise<CycleResult> {
    const { scanner, target, store } = this.o;
    const identity = (await scanner.probeRoot()).identity;
    if (identity !== undefined) store.setSourceIdentity(this.targetId, identity);
    const scan = emptyScan();
    // Staging a new directory costs one rename; where a directory rename copies every file
    // (object stores), it would send the tree twice instead.
    const staging = target.caps.dirRenameCopies === true ? false : DEFAULT_STAGING;
    const planner = new CreationPlanner({ rename: target.caps.rename, symlinks: target.caps.symlinks, byteNames: target.caps.byteNames }, staging);
    const problems: Problem[] = [];
    const report = (found: readonly Problem[]) => {
      this.reportProblems(found);
      problems.push(...found);
    };
    async function* feed(): AsyncGenerator<Op[]> {
      for await (const batch of scanner.batches('', scan, FIRST_PUSH_BATCH)) {
        const scanProblems = scan.problems.splice(0);
        const planned = planner.plan(batch);
        report([...scanProblems, ...planned.problems]);
        const ops = withoutUnsettledPuts(planned.ops, unsettled);
        if (ops.length > 0) yield ops;
      }
      report(scan.problems.splice(0));
      const last = planner.finish();
      if (last.ops.length > 0) yield last.ops;
    }
    const result = await this.execute(feed(), problems);
    // Created, then gone before the scan got inside: not finished (`once` looks again).
    const vanished = result.done.filter((op) => !scan.entries.has(op.path));
    if (vanished.length === 0) return result.cycle;
    this.requeue(vanished.map((op) => ({ path: op.path, deep: true })));
    return { ...result.cycle, unfinished: (result.cycle.unfinished ?? 0) + vanished.length };
  }

  /** Paths the plan could not handle: a warning each, counted for the status. */
  private reportProblems(found: readonly Problem[]): void {
    for (const p of found) this.o.logger.warn(`${quotePath(p.path)}: ${p.message}`);
    this.problemCount += found.length;
  }

  /**
   * The gates on a plan: the source root's (gone, emptied, replaced) on every removal the
   * source implies, maxDelete on what this cycle would delete now.
   */
  private gate(probe: SourceRootProbe, everyRemoval: readonly Op[], ops: readonly Op[]): SafetyVerdict {
    const { store } = this.o;
    const knownTotal = store.count(this.targetId);
    const root = checkSafety({ ops: everyRemoval, source: probe, recordedIdentity: store.sourceIdentity(this.targetId), knownTotal });
    if (!root.ok) return root;
    return checkSafety({ ops, source: probe, recordedIdentity: undefined, knownTotal, ...(this.o.maxDelete ? { maxDelete: this.o.maxDelete } : {}) });
  }

  /**
   * A safety gate refused the plan: nothing is done on this target until it passes. The
   * source root is looked at every few seconds, and the plan made again when it changed
   * (remounted, refilled) or watch events came in; it resumes by itself once the plan passes.
   * The operator can confirm the refused deletes instead (`allowDeletes`).
   */
  private halt(code: GateCode, reason: string, probe: SourceRootProbe): void {
    const first = this.halted?.code !== code;
    this.state = 'halted';
    this.reason = reason;
    this.halted = { code, probe, hinted: false };
    this.lastError = { message: reason, at: new Date().toISOString() };
    if (first) this.o.logger.error(`halted, nothing deleted: ${reason}. ${HALT_ADVICE[code]}`);
    this.requeue([{ path: '', deep: true }]);
    this.flushIn(HALT_RECHECK_MS);
  }

  /**
   * The operator confirms the deletes a safety gate refused (`sync-inotify allow-delete`):
   * the next plan runs whole, deletes included, once. A missing source root cannot be
   * confirmed (there is nothing to mirror). False when this target was not halted.
   */
  allowDeletes(): boolean {
    if (!this.halted || this.halted.code === 'SOURCE_GONE') return false;
    this.deletesConfirmed = true;
    this.flushIn(0);
    return true;
  }

  /** `once --allow-delete`: the next cycle may carry out deletes a gate would refuse. */
  confirmDeletesNextCycle(): void {
    this.deletesConfirmed = true;
  }

  /** Runs a plan (whole, or fed in batches); returns the cycle's result and the ops done. */
  private async execute(plan: OpFeed, problems: Problem[]): Promise<{ cycle: CycleResult; done: readonly Op[] }> {
    const { logger } = this.o;
    const executor = new Executor(this.o.concurrency);
    this.executor = executor;
    // Long work on a terminal: a progress line every few seconds instead of thousands of
    // operation lines (those go to debug). Logs and pipes keep one line per operation.
    const progress = this.o.interactive ? new Progress(logger) : undefined;
    const opLine = (line: string) => (progress?.shown ? logger.debug(line) : logger.info(line));
    const { store } = this.o;
    const targetId = this.targetId;
    const temps = new TempReservations((rows) => this.commits.write(() => rows.forEach((r) => store.addTemp(targetId, r.tempPath, r.finalPath))));
    const staged = new StagedDirs(this.o.target, store, this.commits, targetId);
    const intents = new MkdirIntents(store, this.commits, targetId);
    const planned = (ops: readonly Op[]) => {
      intents.plan(ops);
      // Files written into a staged directory need no temp name of their own.
      temps.plan(ops.filter((op): op is PutOp => op.kind === 'put' && op.stagedIn === undefined));
      progress?.plan(ops.length);
    };
    const feed: OpFeed = isOpList(plan) ? (planned(plan), plan) : tap(plan, planned);
    // The first op to find the target down shows it in `status` at once (the backoff and the
    // log line follow in onTargetDown, once the ops in flight have ended).
    let down: TargetError | undefined;
    const targetDown = (err?: TargetError): boolean => {
      if (err !== undefined && down === undefined) {
        down = err;
        this.state = err.scope === 'pause' ? 'paused' : 'retrying';
        this.reason = err.message;
        this.lastError = { message: err.message, at: new Date().toISOString() };
      }
      return down !== undefined;
    };
    const report = await executor.execute(feed, async (op) => {
      this.counters.inFlight++;
      try {
        return await applyOp(
          {
            sourceRoot: this.o.sourceRoot,
            target: this.o.target,
            store: this.o.store,
            commits: this.commits,
            temps,
            staged,
            intents,
            targetId: this.targetId,
            now: Date.now,
            sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
            targetDown,
            onApplied: (done, bytes) => {
              this.counters.opsDone++;
              progress?.advance(bytes);
              if (done.kind === 'put') {
                this.counters.filesSent++;
                this.counters.bytesSent += bytes;
                opLine(`put ${quotePath(done.path)} ${formatBytes(bytes)}`);
              } else {
                opLine(describeOp(done));
              }
            },
          },
          op,
        );
      } finally {
        this.counters.inFlight--;
      }
    });
    this.executor = undefined;
    // Results gathered for one commit are in the store before anything reads it again.
    await this.commits.drain();
    progress?.finish();
    const unstarted = temps.unstarted();
    if (unstarted.length > 0) store.transaction(() => unstarted.forEach((t) => store.removeTemp(targetId, t)));
    // A temp whose removal failed (the target refused it) stays journalled: the next cycle
    // removes it, not only the next start.
    this.hasLeftovers = store.temps(targetId).length > 0;

    intents.forgetUnstarted();

    for (const { op, error } of report.failed) {
      // A vanished root fails every operation in flight: onTargetDown says it once.
      if (isTargetError(error) && error.code === 'E_ROOT_GONE') continue;
      if (!isTargetError(error) || error.scope === 'path') {
        logger.warn(`${describeOp(op)} failed: ${error.message}`);
        this.lastError = { message: `${describeOp(op)}: ${error.message}`, at: new Date().toISOString() };
      } else if (op.kind === 'put') {
        // Target-wide (a full disk, a dead connection): onTargetDown's one line tells it.
        logger.debug(`${describeOp(op)} failed: ${error.message}`);
      }
    }
    // Everything not finished is looked at again: the ops' paths go back into the dirty set.
    // A name the target cannot carry stays refused until the path changes (a new event), and
    // so does what was skipped beneath it (the files of a refused directory): looking again
    // at once would only be refused again, in a loop.
    const refused = report.failed.filter((f) => isTargetError(f.error) && f.error.code === 'E_NAME').map((f) => f.op.path);
    const retriable = report.failed.filter((f) => f.error !== report.targetError && !(isTargetError(f.error) && f.error.code === 'E_NAME'));
    const skipped = refused.length === 0 ? report.skipped : report.skipped.filter((op) => !refused.some((p) => isAtOrUnder(op.path, p)));
    const unfinished = [...report.retryLater, ...retriable.map((f) => f.op), ...skipped];
    const again: Scope[] = unfinished.flatMap((op) => rescanScopesFor(op));
    if (report.targetError) {
      this.onTargetDown(report.targetError, [...again, ...report.failed.flatMap((f) => rescanScopesFor(f.op))]);
    } else {
      this.recovered();
      if (retriable.length > 0) {
        // Per-path failures wait before their retry, longer each round they keep failing.
        this.pathFailureRounds++;
        this.pausedUntil = Date.now() + backoffDelay(this.pathFailureRounds - 1, TARGET_RETRY);
      } else {
        this.pathFailureRounds = 0;
      }
      if (again.length > 0) this.requeue(again);
    }
    return {
      cycle: {
        ops: report.done.length,
        failed: report.failed.length,
        unfinished: unfinished.length,
        problems,
        touched: touchedDirs(report.done),
        failures: report.failed.map(({ op, error }) => ({ path: op.path, message: `${describeOp(op)}: ${error.message}` })),
        ...(report.targetError ? { targetError: report.targetError } : {}),
      },
      done: report.done,
    };
  }

  /**
   * A cycle ended without a target-wide failure: the target works. The failure count (and so
   * the backoff) resets only here, never on a mere reconnect; one line says so.
   */
  private recovered(): void {
    if (this.failures > 0) this.o.logger.info(`target is reachable again (after ${this.failures} failed attempt${this.failures === 1 ? '' : 's'})`);
    this.failures = 0;
    this.failureCode = undefined;
    this.reason = undefined;
    if (this.state !== 'stopped') this.state = 'ok';
  }

  private onTargetDown(err: unknown, scopes: readonly Scope[]): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const pause = isTargetError(error) && error.scope === 'pause';
    const code = isTargetError(error) ? error.code : 'E_UNKNOWN';
    const announce = announceFailure(this.failures, this.failureCode, code);
    const rootGone = isTargetError(error) && error.code === 'E_ROOT_GONE';
    this.failures++;
    this.failureCode = code;
    const delay = backoffDelay(this.failures - 1, pause ? PAUSED_RETRY : TARGET_RETRY);
    this.state = pause ? 'paused' : 'retrying';
    this.reason = error.message;
    this.lastError = { message: error.message, at: new Date().toISOString() };
    this.pausedUntil = Date.now() + delay;
    const line = `${pause ? 'paused' : 'target unavailable'}: ${error.message}; retrying in ${(delay / 1000).toFixed(1)} s (changes are kept)`;
    if (rootGone) {
      // Nothing recorded can be trusted now; the next start rebuilds (see start()). One line
      // while it stays gone (an unmounted disk can stay away for hours).
      this.o.store.distrustTarget(this.targetId);
      if (this.rootGoneLogged) this.o.logger.debug(line);
      else this.o.logger.error(line);
      this.rootGoneLogged = true;
    } else if (announce) {
      // One line per change of state (ok → retrying, or a different kind of failure); the
      // attempts in between go to debug, so a disk full for a day is not a log line per retry.
      this.o.logger.error(line);
    } else {
      this.o.logger.debug(`${line}; attempt ${this.failures}`);
    }
    // Reconnect from scratch next time, and look at everything that was asked for again (all
    // of it when the root is gone: it is rebuilt).
    this.requeue(scopes.length > 0 && !rootGone ? scopes : [{ path: '', deep: true }]);
    this.flushIn(delay);
  }

  /** Scans one scope into `scan` and loads what the store knows there into `known`. */
  private async collect(s: Scope, scan: ScanResult, known: Map<string, KnownEntry>): Promise<void> {
    const { store, scanner } = this.o;
    const k = store.get(this.targetId, s.path);
    if (k && s.path !== '') {
      // Gone together with its directory (a tree renamed or removed): decide at the level of
      // that directory, where a rename can still be paired and held, not file by file.
      const top = await this.topVanishedAncestor(s.path);
      if (top !== s.path) return this.collect({ path: top, deep: true }, scan, known);
    }
    if (s.deep) {
      await scanner.scanTree(s.path, scan);
      for (const e of store.subtree(this.targetId, s.path)) known.set(e.path, e);
      return;
    }
    const local = await scanner.statPath(s.path, scan);
    if (needsDeepScan(local, k)) return this.collect({ path: s.path, deep: true }, scan, known);
    if (local) scan.entries.set(s.path, local);
    if (k) known.set(k.path, k);
    // The parent must be in the region when the path is new there, so a rename pairing or a
    // creation sees its directory; the widening guaranteed it is a known directory.
    const parent = parentOf(s.path);
    const pk = parent === '' ? undefined : store.get(this.targetId, parent);
    if (pk && !known.has(parent)) {
      const pl = await scanner.statPath(parent, scan);
      if (pl && pl.kind === 'dir') {
        scan.entries.set(parent, pl);
        known.set(parent, pk);
      }
    }
  }

  /**
   * The highest ancestor of `path` that no longer exists in the source, or `path` itself when
   * its parent exists (the common case: one lstat).
   */
  private async topVanishedAncestor(path: string): Promise<string> {
    let top = path;
    for (let p = parentOf(path); p !== ''; p = parentOf(p)) {
      const exists = await lstat(toFsPath(join(this.o.sourceRoot, p))).then(
        () => true,
        () => false,
      );
      if (exists) break;
      top = p;
    }
    return top;
  }

  /**
   * A file or directory that vanished with no new path to pair it with may be half of a
   * rename whose other half the watcher reports a moment later (events arrive in batches).
   * Removing it now would re-send it (a whole tree, for a directory) once the new name shows
   * up, so its removal is held for a short grace period, during which every cycle looks at it
   * again (so the cycle that sees the new name pairs the rename). Still gone and unpaired
   * after the grace: removed. Returns the paths to keep this cycle.
   */
  private holdVanished(ops: readonly Op[], present: ReadonlyMap<string, LocalEntry>): string[] {
    if (!this.renameGrace) return [];
    const removed = ops.filter((o) => (o.kind === 'rmdir' || o.kind === 'remove') && !present.has(o.path)).map((o) => o.path);
    const tops = new Set(removed.filter((p) => !removed.some((q) => q !== p && isAtOrUnder(p, q))));
    const now = Date.now();
    // Held paths that are no longer unpaired removals are settled (paired, or back).
    for (const p of this.held.keys()) if (!tops.has(p)) this.held.delete(p);
    const keep: string[] = [];
    const fresh: string[] = [];
    for (const p of tops) {
      const heldAt = this.held.get(p);
      if (heldAt === undefined) {
        this.held.set(p, now);
        fresh.push(p);
        keep.push(p);
      } else if (now - heldAt < RENAME_GRACE_MS) {
        keep.push(p);
      } else {
        this.held.delete(p);
      }
    }
    if (fresh.length > 0) {
      this.o.logger.debug(`holding the removal of ${fresh.length} vanished path(s) for ${RENAME_GRACE_MS} ms (a rename may follow)`);
      const t = setTimeout(() => this.hint(fresh.map((path) => ({ path, deep: true }))), RENAME_GRACE_MS + 5);
      t.unref();
    }
    return keep;
  }

  /**
   * Files whose record is racy and whose fingerprint looks unchanged get a content hash. The
   * record is found by inode too, so a racy file that was renamed is still compared by content
   * (and renamed, not re-sent).
   */
  private async hashRacy(local: Map<string, LocalEntry>, known: Map<string, KnownEntry>): Promise<void> {
    const racyByIno = new Map<string, KnownEntry>();
    for (const k of known.values()) if (isRacy(k)) racyByIno.set(k.ino, k);
    if (racyByIno.size === 0) return;
    const settled: KnownEntry[] = [];
    const now = Date.now();
    for (const [path, e] of local) {
      if (e.kind !== 'file') continue;
      const k = known.get(path)?.ino === e.ino ? known.get(path) : racyByIno.get(e.ino);
      if (!k || !sameFingerprint(e, { ...k, path }) || !isRacy(k)) continue;
      try {
        const hash = await hashFile(join(this.o.sourceRoot, path), e.size);
        local.set(path, { ...e, hash });
        // Same bytes as sent, and the clock has moved past the file's mtime: any later write
        // changes the mtime, so the record can be trusted by fingerprint from now on (git's
        // index refresh). Without this, a file sent right after it was written would be
        // hashed again on every reconcile.
        if (k.path === path && hash === k.hash && now - e.mtimeMs >= RACY_WINDOW_MS) settled.push({ ...k, recordedAtMs: now });
      } catch {
        // Vanished or unreadable: leave it; without a hash the planner re-sends a racy file.
      }
    }
    this.o.logger.debug(`compared recently written files by content: ${local.size > 0 ? [...local.values()].filter((e) => e.hash !== undefined).length : 0} hashed, ${settled.length} settled`);
    if (settled.length > 0) {
      await this.commits.write(() => {
        for (const k of settled) this.o.store.upsert(this.targetId, k);
      });
      for (const k of settled) known.set(k.path, k);
    }
  }

  /** Stops after in-flight operations finish; pending changes stay for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.firstCycleEnded();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.executor?.stop();
    await this.running;
    this.state = 'stopped';
    for (const w of this.idleWaiters.splice(0)) w();
    await this.o.target.close().catch(() => undefined);
  }
}

/** How often a target halted by a safety gate looks at the source root again. */
const HALT_RECHECK_MS = 5_000;

const CONFIRM = 'if the deletes are intended, confirm them with `sync-inotify allow-delete -c FILE` (a one-shot run: `once --allow-delete`)';
const HALT_ADVICE: Record<GateCode, string> = {
  SOURCE_GONE: 'Re-checking every 5 s; resumes by itself when the source folder is back',
  SOURCE_EMPTY: `Re-checking every 5 s; resumes by itself when the source is back (mounted, restored); ${CONFIRM}`,
  SOURCE_REPLACED: `Re-checking every 5 s; resumes by itself when the source that was mirrored is back (mounted again); ${CONFIRM}`,
  MAX_DELETE: `Raise maxDelete and reload, or ${CONFIRM}`,
};

/** Directories a verification lists at once, at most. */
const VERIFY_PARALLEL = 8;
/** Drift lines logged one by one; the rest are counted. */
const DRIFT_LINES = 20;

/** The directories whose entries `done` changed on the target (see CycleResult.touched). */
function touchedDirs(done: readonly Op[]): string[] {
  const dirs = new Set<string>();
  for (const op of done) {
    dirs.add(parentOf(op.path));
    if (op.kind === 'rename') dirs.add(parentOf(op.from));
    if (op.kind === 'mkdir' || op.kind === 'publish') dirs.add(op.path);
  }
  return [...dirs];
}

/** How long a vanished path's removal waits for the other half of a rename. */
const RENAME_GRACE_MS = 150;

const PROGRESS_MIN_OPS = 200;
/** Entries a first push scans between two batches of its plan (a few milliseconds of lstats). */
const FIRST_PUSH_BATCH = 250;
const PROGRESS_EVERY_MS = 2_000;

/**
 * Counts finished operations and reports done/total, bytes and an estimate of time left. The
 * total grows while a plan arrives in batches; lines start once it reaches PROGRESS_MIN_OPS
 * (`shown`): smaller plans list their operations instead.
 */
class Progress {
  private total = 0;
  private done = 0;
  private bytes = 0;
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly logger: Logger) {}

  get shown(): boolean {
    return this.timer !== undefined;
  }

  plan(ops: number): void {
    this.total += ops;
    if (this.timer === undefined && this.total >= PROGRESS_MIN_OPS) {
      this.timer = setInterval(() => this.report(), PROGRESS_EVERY_MS);
      this.timer.unref();
    }
  }

  advance(bytes: number): void {
    this.done++;
    this.bytes += bytes;
  }

  private report(): void {
    const elapsed = (Date.now() - this.startedAt) / 1000;
    const left = this.done > 0 ? ((this.total - this.done) * elapsed) / this.done : undefined;
    this.logger.info(`progress: ${this.done} of ${this.total} operations, ${formatBytes(this.bytes)} sent${left !== undefined ? `, about ${Math.ceil(left)} s left` : ''}`);
  }

  finish(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.report();
  }
}

/** Passes a feed's batches on, showing each to `see` first. */
async function* tap(feed: AsyncIterable<readonly Op[]>, see: (ops: readonly Op[]) => void): AsyncGenerator<readonly Op[]> {
  for await (const ops of feed) {
    see(ops);
    yield ops;
  }
}

/** The scopes of a full reconcile: the whole tree, deep. */
function isWholeTree(scopes: readonly Scope[]): boolean {
  return scopes.length > 0 && normalizeScopes(scopes).every((s) => s.path === '' && s.deep);
}

/**
 * The plan without the uploads of files still being written (they wait for the next cycle).
 * Nothing depends on a put (it creates no directory and vacates nothing); a publish waits for
 * its directory's puts to end, so those left out are taken off its list.
 */
function withoutUnsettledPuts(ops: Op[], unsettled: ReadonlySet<string>): Op[] {
  if (unsettled.size === 0) return ops;
  const left = new Set(ops.filter((op) => op.kind === 'put' && unsettled.has(op.path)).map((op) => op.id));
  if (left.size === 0) return ops;
  return ops.filter((op) => !left.has(op.id)).map((op) => (op.kind === 'publish' ? { ...op, after: op.after.filter((id) => !left.has(id)) } : op));
}

/** The scopes to look at again when an op did not finish. */
function rescanScopesFor(op: Op): Scope[] {
  switch (op.kind) {
    case 'rename':
      return [{ path: op.from, deep: true }, { path: op.path, deep: true }];
    case 'rmdir':
    case 'mkdir':
    case 'publish':
      return [{ path: op.path, deep: true }];
    default:
      return [{ path: op.path, deep: false }];
  }
}
