/**
 * One source folder mirrored to one target: its own dirty set, debounce, cycles, backoff and
 * health, so a slow or dead target never holds back the others.
 *
 * A cycle: take the dirty scopes → widen them to known parents → scan the source there and
 * load the store there → hash racy files → plan → safety gates → execute → commit each op.
 * Paths that could not be finished go back into the dirty set (with backoff when the target
 * failed), so nothing is lost while a burst is in flight or a server is down.
 *
 * This file is the loop and the cycle; its parts live next to it, one concept each:
 * dirty-set.ts (hints and debounce), target-health.ts (state, backoff, log lines),
 * target-recovery.ts (what a start settles), region.ts and racy-hash.ts (what a cycle looks
 * at), safety-halt.ts (gates), run-plan.ts (the executor glue), verify-target.ts, progress.ts;
 * the pure selections are core/cycle-selection.ts. See docs/architecture.md.
 */
import { quotePath } from '../core/names.ts';
import { isUncertain, type KnownEntry, type LocalEntry } from '../core/entry.ts';
import type { Drift } from '../core/drift.ts';
import { countRemovals, describeOp, type Op, type Problem } from '../core/ops.ts';
import { CreationPlanner, DEFAULT_STAGING } from '../core/plan-creations.ts';
import { plan } from '../core/plan.ts';
import { backoffDelay, TARGET_RETRY } from '../core/retry.ts';
import { nextPathBackoff, type PathBackoff } from '../core/path-backoff.ts';
import { probeChanged, type GateCode, type MaxDelete, type SourceRootProbe } from '../core/safety.ts';
import { parentOf } from '../core/paths.ts';
import { normalizeScopes, widenScope, type Scope } from '../core/scope.ts';
import { decideHolds, isWholeTree, rescanScopesFor, touchedDirs, unfinishedOps, vanishedRemovalTops, withoutUnsettledPuts } from '../core/cycle-selection.ts';
import type { Logger } from '../log/logger.ts';
import { GroupCommit } from '../state/group-commit.ts';
import type { Store } from '../state/store.ts';
import { isTargetError, TargetError } from '../targets/errors.ts';
import { capabilitiesOf } from '../targets/capabilities.ts';
import type { Target } from '../targets/target.ts';
import { adoptRemote } from './adopt.ts';
import { DirtySet } from './dirty-set.ts';
import type { Executor, OpFeed } from './executor.ts';
import { hashRacy } from './racy-hash.ts';
import { collectScope } from './region.ts';
import { LARGE_CYCLE_ENTRIES, releaseMemorySoon } from './release-memory.ts';
import { runPlan, type RunCounters } from './run-plan.ts';
import { gatePlan, HALT_ADVICE, HALT_RECHECK_MS } from './safety-halt.ts';
import { emptyScan, type Scanner } from './scanner.ts';
import { TargetHealth, type LastError, type TargetState } from './target-health.ts';
import { forgetRebuiltRoot, removeLeftovers, settleRenames } from './target-recovery.ts';
import { verifyTarget } from './verify-target.ts';
import type { ProgressView } from './progress.ts';
import type { BwSchedule } from '../core/bwlimit.ts';
import { Throttle } from '../targets/throttle.ts';
import type { PoolStats } from '../targets/pool/session-pool.ts';

export type { TargetState } from './target-health.ts';

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
  /** Where long work shows its progress (a terminal's live line); none: every op is logged. */
  readonly progress?: ProgressView;
  /** Upload bandwidth limit for the whole target (all its connections share it). */
  readonly bwlimit?: BwSchedule;
  /**
   * Dry run (README: Dry run): each planned operation is handed here instead of being carried
   * out, and the target is never contacted (no connect, no leftover removal). The store
   * should be a copy (SqliteStore.copyOf): the cycle still writes its bookkeeping there.
   */
  readonly dryRun?: (op: Op) => void;
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
  readonly lastError?: LastError;
  readonly problems: number;
  /** Failures since start by error code (per-path failures and target-wide ones; metrics). */
  readonly errors: Readonly<Record<string, number>>;
  /** End of the last cycle that reached the target without a target-wide failure. */
  readonly lastSyncAt?: string;
  /** The backend's connection pool, when it has one (Target.poolStats). */
  readonly connections?: PoolStats;
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

/** How long a vanished path's removal waits for the other half of a rename. */
const RENAME_GRACE_MS = 150;
/**
 * How soon an idle target comes back for temps it refused to remove (a target read-only for a
 * while): without it, a leftover refused during the last cycle of a burst would stay until the
 * next change or rescan.
 */
const LEFTOVER_RETRY_MS = 5_000;
/** Entries a first push scans between two batches of its plan (a few milliseconds of lstats). */
const FIRST_PUSH_BATCH = 250;

export class TargetSync {
  private readonly dirty = new DirtySet();
  /** The one flush timer: a timeout, or an immediate when the flush is due now. */
  private timer: { readonly kind: 'timeout'; readonly handle: NodeJS.Timeout } | { readonly kind: 'immediate'; readonly handle: NodeJS.Immediate } | undefined;
  private running: Promise<void> | undefined;
  private executor: Executor | undefined;
  /** Hold vanished paths for the other half of a rename (a watcher is running). */
  private renameGrace = true;
  /** Vanished paths whose removal was held, and when (see holdVanished). */
  private held = new Map<string, number>();
  /** Cycles in a row with failures that say the target struggles (not one path's own). */
  private pathFailureRounds = 0;
  private pausedUntil = 0;
  /** Paths refused on their own: failures in a row and when to try again (core/path-backoff.ts). */
  private pathBackoff = new Map<string, PathBackoff>();
  /** Their scopes, hinted again when due (armRetryLater). */
  private retryLater: { scope: Scope; at: number }[] = [];
  private retryLaterTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  readonly targetId: number;
  private readonly health: TargetHealth;
  private readonly counters: RunCounters = { filesSent: 0, bytesSent: 0, opsDone: 0, inFlight: 0 };
  private problemCount = 0;
  /** While halted by a safety gate: which gate, and the source root as it was then. */
  private halted: { code: GateCode; probe: SourceRootProbe; hinted: boolean } | undefined;
  /** The operator confirmed the deletes a gate refused (`allow-delete`, `once --allow-delete`). */
  private deletesConfirmed = false;

  private readonly commits: GroupCommit;
  /** One budget for every upload of this target (bwlimit), across its connections. */
  private readonly throttle: Throttle | undefined;
  /** The next cycle starts with a full verification of the target (verify('all')). */
  private verifyDue = false;
  private initialized = false;
  /** The temp journal holds leftovers to remove before the next plan (removeLeftovers). */
  private hasLeftovers = false;
  /** Source entries the last cycle scanned (a large one is followed by a collection: release-memory.ts). */
  private lastScanned = 0;
  /** Comes back for leftovers when nothing else would (retryLeftoversLater). */
  private leftoverTimer: NodeJS.Timeout | undefined;
  /** Settled when the first cycle has ended, whatever its outcome, or at stop (see firstCycle). */
  private firstCycleEnded!: () => void;
  /**
   * The first cycle (the start's reconcile) has ended: in sync, retrying, paused or halted.
   * A daemon under systemd reports READY=1 then (src/service/systemd-notify.ts).
   */
  readonly firstCycle = new Promise<void>((resolve) => (this.firstCycleEnded = resolve));

  constructor(private readonly o: TargetSyncOptions) {
    this.commits = new GroupCommit(o.store);
    this.throttle = o.bwlimit ? Throttle.forSchedule(o.bwlimit) : undefined;
    this.targetId = o.store.targetId(`${o.sourceRoot}\n${o.target.displayName}`);
    this.health = new TargetHealth(o.logger);
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

  get state(): TargetState {
    return this.health.state;
  }

  get reason(): string | undefined {
    return this.health.reason;
  }

  status(): TargetStatus {
    const { state, reason, lastError } = this.health;
    return {
      target: this.name,
      state,
      ...(reason !== undefined ? { reason } : {}),
      queued: this.dirty.size,
      inFlight: this.counters.inFlight,
      filesSent: this.counters.filesSent,
      bytesSent: this.counters.bytesSent,
      opsDone: this.counters.opsDone,
      lagMs: this.dirty.lagMs(Date.now(), this.running !== undefined),
      ...(lastError ? { lastError } : {}),
      problems: this.problemCount,
      errors: Object.fromEntries(this.health.errorCounts),
      ...(this.health.lastSyncAt !== undefined ? { lastSyncAt: new Date(this.health.lastSyncAt).toISOString() } : {}),
      ...(this.o.target.poolStats ? { connections: this.o.target.poolStats() } : {}),
    };
  }

  /** One-shot reconciles (`once`) have no watcher to wait for: decide every removal at once. */
  disableRenameGrace(): void {
    this.renameGrace = false;
  }

  /** Marks paths dirty; a cycle follows after the debounce window. */
  hint(scopes: readonly Scope[]): void {
    if (this.stopped) return;
    this.dirty.hint(scopes, Date.now());
    this.o.logger.debug(`hint: ${scopes.length} path(s), first ${quotePath(scopes[0]?.path ?? '')}; ${this.dirty.size} dirty`);
    if (this.halted) this.halted.hinted = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.running || this.dirty.size === 0) return;
    // Halted: a timer re-checks (missing source) or the operator must act (maxDelete).
    if (this.health.state === 'halted') return;
    const now = Date.now();
    const wait = Math.max(this.dirty.flushDelay(now, this.o.debounceMs, this.o.debounceMaxMs), this.pausedUntil - now);
    this.flushIn(wait);
  }

  /**
   * (Re)arms the one flush timer. A flush due now (a file closed after writing) runs on this
   * loop turn's check phase: setTimeout(0) would wait for the next turn's timers, up to 1 ms.
   */
  private flushIn(ms: number): void {
    this.clearFlushTimer();
    const fire = () => {
      this.timer = undefined;
      void this.flush();
    };
    this.timer = ms <= 0 ? { kind: 'immediate', handle: setImmediate(fire) } : { kind: 'timeout', handle: setTimeout(fire, ms) };
  }

  private clearFlushTimer(): void {
    if (this.timer?.kind === 'immediate') clearImmediate(this.timer.handle);
    else if (this.timer) clearTimeout(this.timer.handle);
    this.timer = undefined;
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
    const { scopes, unsettled, settlesInMs, batchStartedAt } = this.dirty.take(now, this.o.debounceMs, this.o.debounceMaxMs);
    if (scopes.length === 0) return this.flushIn(settlesInMs);
    this.o.logger.debug(`cycle: ${scopes.length} dirty path(s), oldest ${now - batchStartedAt} ms old${unsettled.size > 0 ? `; ${unsettled.size} still being written, held` : ''}`);
    this.running = this.cycle(scopes, unsettled).then(
      () => undefined,
      (err: unknown) => {
        this.o.logger.error(`cycle failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        this.requeue(scopes);
      },
    );
    await this.running;
    this.running = undefined;
    this.firstCycleEnded();
    if (this.lastScanned >= LARGE_CYCLE_ENTRIES) releaseMemorySoon();
    this.lastScanned = 0;
    if (this.dirty.afterCycle(batchStartedAt, Date.now())) {
      this.schedule();
    } else {
      this.retryLeftoversLater();
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * The journal still holds temps the target refused to remove: look at their directories again
   * in a while, so that a cycle runs and removes them (cycle → removeLeftovers). Its own timer,
   * unref'd: `once` does not wait for a target that keeps refusing, and the next start removes
   * them anyway.
   */
  private retryLeftoversLater(): void {
    if (!this.hasLeftovers || this.stopped || this.o.dryRun || this.leftoverTimer) return;
    this.leftoverTimer = setTimeout(() => {
      this.leftoverTimer = undefined;
      if (!this.hasLeftovers || this.stopped) return;
      const dirs = new Set(this.o.store.temps(this.targetId).map((t) => parentOf(t.path)));
      if (dirs.size > 0) this.hint([...dirs].map((path) => ({ path, deep: false })));
    }, LEFTOVER_RETRY_MS);
    this.leftoverTimer.unref();
  }

  private requeue(scopes: readonly Scope[]): void {
    this.dirty.requeue(scopes, Date.now());
  }

  /** Resolves when nothing is dirty and no cycle runs (tests, `once`). */
  whenIdle(): Promise<void> {
    if (!this.running && this.dirty.size === 0 && !this.timer) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

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
    if (this.o.dryRun) {
      // Planned against the store alone: files a real first run would adopt show as puts.
      this.initialized = true;
      this.health.state = 'ok';
      return;
    }
    const { store, target, logger } = this.o;
    const id = this.targetId;
    const recovery = { target, store, targetId: id, logger };
    const unseen = store.isNewTarget(id);
    const hasRecords = store.count(id) > 0;
    const firstRun = !this.initialized && unseen && !hasRecords;
    const { rootCreated } = await target.connect({ bulk: firstRun, rootExisted: hasRecords || !unseen });
    this.health.rootGoneLogged = false;
    if (rootCreated && (hasRecords || !unseen)) forgetRebuiltRoot(recovery);
    await removeLeftovers(recovery);
    await settleRenames(recovery);
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
    this.health.state = this.health.failures > 0 ? 'retrying' : 'ok';
  }

  /** The next cycle lists the whole target first and repairs drift (`verify`, verifyIntervalSec). */
  requestVerify(): void {
    this.verifyDue = true;
  }

  /**
   * Lists `dirs` of the target (or all of it) and compares what is there with the store's
   * records of their entries (verify-target.ts). Drift is corrected in the store, so the next
   * plan repairs it, and returned. A root that is gone distrusts the whole store (see start()).
   */
  async verify(dirs: 'all' | readonly string[]): Promise<Drift[]> {
    const drift = await verifyTarget({ target: this.o.target, store: this.o.store, commits: this.commits, targetId: this.targetId, logger: this.o.logger }, dirs);
    return drift === 'root-gone' ? this.rootVanished() : drift;
  }

  /**
   * The target root is gone: nothing the store records can be trusted any more. The store
   * says so durably (distrustTarget), so a restart verifies too, and the next start creates
   * the root again or waits for it (start()).
   */
  private rootVanished(): Drift[] {
    this.o.store.distrustTarget(this.targetId);
    this.health.rootVanished();
    return [{ path: '', kind: 'missing', detail: 'the target root is gone' }];
  }

  /**
   * Runs one cycle over `scopes` now (no debounce). Used for the startup reconcile and by
   * `once`; the daemon path goes through `hint`. Files at `unsettled` paths are not sent in
   * this cycle even when a deep scope finds them: they are still being written.
   */
  async cycle(scopes: readonly Scope[], unsettled: ReadonlySet<string> = new Set()): Promise<CycleResult> {
    const { store, scanner, logger } = this.o;
    if (this.health.state !== 'ok' && this.health.state !== 'halted') {
      try {
        // After a failure, start from a fresh connection.
        if (this.health.state !== 'starting') await this.o.target.close().catch(() => undefined);
        await this.start();
      } catch (err) {
        this.onTargetDown(err, scopes);
        return { ops: 0, failed: 0, problems: [], targetError: err as Error };
      }
    }
    if (this.hasLeftovers && !this.o.dryRun) {
      try {
        this.hasLeftovers = (await removeLeftovers({ target: this.o.target, store, targetId: this.targetId, logger })) > 0;
      } catch (err) {
        this.onTargetDown(err, scopes);
        return { ops: 0, failed: 0, problems: [], targetError: err as Error };
      }
    }
    if (this.verifyDue) {
      try {
        await this.verify('all');
        this.verifyDue = false;
      } catch (err) {
        this.onTargetDown(err, scopes);
        return { ops: 0, failed: 0, problems: [], targetError: err as Error };
      }
      if (this.health.state !== 'ok') {
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
    const region = { sourceRoot: this.o.sourceRoot, store, scanner, targetId: this.targetId };
    for (const s of widened) await collectScope(region, s, scan, known);
    this.lastScanned = scan.entries.size;
    await hashRacy({ sourceRoot: this.o.sourceRoot, store, commits: this.commits, targetId: this.targetId, logger }, scan.entries, known);

    const caps = capabilitiesOf(this.o.target);
    const planFor = (keep: readonly string[]) =>
      plan({
        local: scan.entries,
        known,
        caps: { rename: caps.rename, symlinks: caps.symlinks },
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
      const verdict = gatePlan(store, this.targetId, probe!, everyRemoval, result.ops, this.o.maxDelete);
      if (!verdict.ok) {
        if (!confirmed || verdict.code === 'SOURCE_GONE') {
          this.halt(verdict.code, verdict.reason, probe!);
          return { ops: 0, failed: 0, problems, halted: verdict.reason };
        }
        logger.warn(`deleting as the operator confirmed: ${verdict.reason.replace(/refusing to delete/, 'deleting')}`);
      }
    }
    if (this.health.state === 'halted') {
      logger.info(confirmed ? 'deletes confirmed by the operator: resuming' : 'the source is back: resuming');
      this.health.state = 'ok';
      this.health.reason = undefined;
      this.halted = undefined;
    }
    // This source root is the one mirrored from now on (a full look that passed the gates).
    if (fullScan && probe?.identity !== undefined && probe.identity !== store.sourceIdentity(this.targetId)) store.setSourceIdentity(this.targetId, probe.identity);
    if (result.ops.length === 0) {
      this.health.recovered(); // connected and nothing left to do
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
    // (object stores), it would send the tree twice instead; a batch target sends a new tree in
    // few calls with its own temp names, so staging buys it nothing.
    const staging = target.caps.dirRenameCopies === true || target.applyBatch !== undefined ? false : DEFAULT_STAGING;
    const caps = capabilitiesOf(target);
    const planner = new CreationPlanner({ rename: caps.rename, symlinks: caps.symlinks, byteNames: caps.byteNames }, staging);
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
    this.lastScanned = scan.entries.size;
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
   * A safety gate refused the plan: nothing is done on this target until it passes. The
   * source root is looked at every few seconds, and the plan made again when it changed
   * (remounted, refilled) or watch events came in; it resumes by itself once the plan passes.
   * The operator can confirm the refused deletes instead (`allowDeletes`).
   */
  private halt(code: GateCode, reason: string, probe: SourceRootProbe): void {
    const first = this.halted?.code !== code;
    this.health.state = 'halted';
    this.health.reason = reason;
    this.halted = { code, probe, hinted: false };
    this.health.noteError(reason);
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

  /**
   * Runs a plan (whole, or fed in batches; run-plan.ts) and settles its outcome: failures
   * logged, what did not finish back into the dirty set, the target's health. Returns the
   * cycle's result and the ops done.
   */
  private async execute(plan: OpFeed, problems: Problem[]): Promise<{ cycle: CycleResult; done: readonly Op[] }> {
    const { logger } = this.o;
    const { report, leftovers } = await runPlan(
      {
        sourceRoot: this.o.sourceRoot,
        target: this.o.target,
        store: this.o.store,
        commits: this.commits,
        targetId: this.targetId,
        logger,
        concurrency: this.o.concurrency,
        ...(this.o.progress ? { progress: this.o.progress } : {}),
        ...(this.throttle ? { throttle: this.throttle } : {}),
        ...(this.o.dryRun ? { dryRun: this.o.dryRun } : {}),
        counters: this.counters,
        running: (executor) => (this.executor = executor),
        firstDown: (err) => this.health.showDown(err),
      },
      plan,
    );
    this.hasLeftovers = leftovers;

    for (const { op, error } of report.failed) {
      // A vanished root fails every operation in flight: onTargetDown says it once.
      if (isTargetError(error) && error.code === 'E_ROOT_GONE') continue;
      if (!isTargetError(error) || error.scope === 'path') {
        this.health.countError(error);
        logger.warn(`${describeOp(op)} failed: ${error.message}`);
        this.health.noteError(`${describeOp(op)}: ${error.message}`);
      } else if (op.kind === 'put') {
        // Target-wide (a full disk, a dead connection): onTargetDown's one line tells it.
        logger.debug(`${describeOp(op)} failed: ${error.message}`);
      }
    }
    // Everything not finished is looked at again: the ops' paths go back into the dirty set
    // (core/cycle-selection.ts unfinishedOps: a refused name is not retried in a loop).
    const unfinished = unfinishedOps(report, (error) => isTargetError(error) && error.code === 'E_NAME');
    if (report.targetError) {
      const again: Scope[] = unfinished.ops.flatMap((op) => rescanScopesFor(op));
      this.onTargetDown(report.targetError, [...again, ...report.failed.flatMap((f) => rescanScopesFor(f.op))]);
    } else {
      this.health.recovered();
      // A path refused on its own waits on its own (core/path-backoff.ts): the other paths
      // keep flowing. Failures that say the target struggles space the target's cycles.
      const now = Date.now();
      const decision = nextPathBackoff(
        this.pathBackoff,
        { done: report.done.map((op) => op.path), failed: unfinished.retriable.map((f) => ({ path: f.op.path, scope: isTargetError(f.error) ? f.error.scope : undefined })) },
        now,
      );
      this.pathBackoff = decision.table;
      if (decision.targetWide > 0) {
        this.pathFailureRounds++;
        this.pausedUntil = now + backoffDelay(this.pathFailureRounds - 1, TARGET_RETRY);
      } else {
        this.pathFailureRounds = 0;
      }
      const waiting = new Set(decision.later.map((l) => l.path));
      const again: Scope[] = [];
      for (const op of unfinished.ops) {
        if (!waiting.has(op.path)) {
          again.push(...rescanScopesFor(op));
          continue;
        }
        const retryAt = decision.table.get(op.path)!.retryAt;
        logger.debug(`${quotePath(op.path)}: tried again in ${((retryAt - now) / 1000).toFixed(1)} s (failed ${decision.table.get(op.path)!.failures}× in a row)`);
        for (const scope of rescanScopesFor(op)) this.retryLater.push({ scope, at: retryAt });
      }
      if (again.length > 0) this.requeue(again);
      this.armRetryLater();
    }
    return {
      cycle: {
        ops: report.done.length,
        failed: report.failed.length,
        unfinished: unfinished.ops.length,
        problems,
        touched: touchedDirs(report.done),
        failures: report.failed.map(({ op, error }) => ({ path: op.path, message: `${describeOp(op)}: ${error.message}` })),
        ...(report.targetError ? { targetError: report.targetError } : {}),
      },
      done: report.done,
    };
  }

  /** Looks at the paths waiting out their own backoff (execute) when the first one is due. */
  private armRetryLater(): void {
    if (this.retryLaterTimer) clearTimeout(this.retryLaterTimer);
    this.retryLaterTimer = undefined;
    if (this.stopped || this.retryLater.length === 0) return;
    const first = Math.min(...this.retryLater.map((r) => r.at));
    this.retryLaterTimer = setTimeout(() => {
      this.retryLaterTimer = undefined;
      const now = Date.now();
      const due = this.retryLater.filter((r) => r.at <= now);
      this.retryLater = this.retryLater.filter((r) => r.at > now);
      if (due.length > 0) this.hint(due.map((r) => r.scope));
      this.armRetryLater();
    }, Math.max(0, first - Date.now()));
    // `once` does not wait for a path that keeps failing: it reports it.
    this.retryLaterTimer.unref();
  }

  /**
   * A target-wide failure: back off (target-health.ts), reconnect from scratch next time, and
   * look at everything that was asked for again (all of it when the root is gone: nothing
   * recorded can be trusted now, the next start rebuilds; see start()).
   */
  private onTargetDown(err: unknown, scopes: readonly Scope[]): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const { delay, rootGone } = this.health.down(error);
    if (rootGone) this.o.store.distrustTarget(this.targetId);
    this.pausedUntil = Date.now() + delay;
    this.requeue(scopes.length > 0 && !rootGone ? scopes : [{ path: '', deep: true }]);
    this.flushIn(delay);
  }

  /**
   * A file or directory that vanished with no new path to pair it with may be half of a
   * rename whose other half the watcher reports a moment later (events arrive in batches).
   * Removing it now would re-send it (a whole tree, for a directory) once the new name shows
   * up, so its removal is held for a short grace period, during which every cycle looks at it
   * again (so the cycle that sees the new name pairs the rename). Still gone and unpaired
   * after the grace: removed (core/cycle-selection.ts decideHolds). Returns the paths to keep
   * this cycle.
   */
  private holdVanished(ops: readonly Op[], present: ReadonlyMap<string, LocalEntry>): string[] {
    if (!this.renameGrace) return [];
    const { keep, fresh, held } = decideHolds(vanishedRemovalTops(ops, present), this.held, Date.now(), RENAME_GRACE_MS);
    this.held = held;
    if (fresh.length > 0) {
      this.o.logger.debug(`holding the removal of ${fresh.length} vanished path(s) for ${RENAME_GRACE_MS} ms (a rename may follow)`);
      const t = setTimeout(() => this.hint(fresh.map((path) => ({ path, deep: true }))), RENAME_GRACE_MS + 5);
      t.unref();
    }
    return keep;
  }

  /** Stops after in-flight operations finish; pending changes stay for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.firstCycleEnded();
    this.clearFlushTimer();
    if (this.leftoverTimer) clearTimeout(this.leftoverTimer);
    this.leftoverTimer = undefined;
    if (this.retryLaterTimer) clearTimeout(this.retryLaterTimer);
    this.retryLaterTimer = undefined;
    this.executor?.stop();
    await this.running;
    this.health.state = 'stopped';
    for (const w of this.idleWaiters.splice(0)) w();
    await this.o.target.close().catch(() => undefined);
  }
}
