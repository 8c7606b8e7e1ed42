/**
 * What `status` shows: from the control socket when the daemon runs, else what the state
 * store knows (state/summary.ts reads it). Text for people, `--json` for scripts (the same
 * objects).
 */
import type { StoreReport } from '../state/summary.ts';
import type { TargetStatus } from '../engine/target-sync.ts';
import { formatBytes } from '../log/logger.ts';
import type { PoolStats } from '../targets/pool/session-pool.ts';

export interface TargetReport extends TargetStatus {
  readonly source: string;
}

export interface DaemonStatus {
  readonly name: string;
  readonly pid: number;
  /** sync-inotify's version (package.json). */
  readonly version?: string;
  readonly startedAt: string;
  readonly uptimeSec: number;
  readonly config?: string;
  readonly pidFile: string;
  readonly statePath: string;
  readonly logFile?: string;
  readonly reload: { readonly count: number; readonly at?: string; readonly error?: string };
  readonly targets: readonly TargetReport[];
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m - h * 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function stateLine(t: TargetStatus): string {
  switch (t.state) {
    case 'halted':
      return `halted by a safety gate: ${t.reason ?? ''}`;
    case 'paused':
      return `paused: ${t.reason ?? ''}`;
    case 'retrying':
      return `retrying: ${t.reason ?? ''}`;
    default:
      return t.reason !== undefined ? `${t.state}: ${t.reason}` : t.state;
  }
}

/** The pool in one line: "2 open (1 busy, 1 idle), 3 operations running, 0 waiting; 1 reconnect". */
export function connectionsLine(c: PoolStats): string {
  const open = c.busy + c.idle;
  const parts = [`${open} open (${c.busy} busy, ${c.idle} idle${c.opening > 0 ? `, ${c.opening} opening` : ''}) of at most ${c.limit}`, `${c.running} operation${c.running === 1 ? '' : 's'} running, ${c.waiting} waiting`];
  const since = [`${c.reconnects} reconnect${c.reconnects === 1 ? '' : 's'}`];
  if (c.openFailures > 0) since.push(`${c.openFailures} failed connect${c.openFailures === 1 ? '' : 's'}`);
  if (c.timedOut > 0) since.push(`${c.timedOut} timed out`);
  return `${parts.join(', ')}; ${since.join(', ')}${c.paused !== undefined ? `; paused (${c.paused})` : ''}`;
}

function groupBySource<T extends { source: string }>(items: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) m.set(i.source, [...(m.get(i.source) ?? []), i]);
  return m;
}

export function formatDaemonStatus(s: DaemonStatus): string {
  const out: string[] = [];
  out.push(`${s.name}: running (pid ${s.pid}, up ${formatDuration(s.uptimeSec * 1000)}${s.version !== undefined ? `, version ${s.version}` : ''})`);
  if (s.config) out.push(`  config   ${s.config}`);
  out.push(`  log      ${s.logFile ?? 'terminal'}`);
  out.push(`  state    ${s.statePath}`);
  if (s.reload.count > 0) out.push(`  reloaded ${s.reload.count}×, last ${s.reload.at ?? '?'}${s.reload.error ? ` (failed: ${s.reload.error})` : ''}`);
  for (const [source, targets] of groupBySource(s.targets)) {
    out.push(`${source}`);
    for (const t of targets) {
      out.push(`  → ${t.target}`);
      out.push(`      state       ${stateLine(t)}`);
      out.push(`      queued      ${t.queued} change${t.queued === 1 ? '' : 's'}, ${t.inFlight} in flight`);
      out.push(`      sent        ${t.filesSent} file${t.filesSent === 1 ? '' : 's'}, ${formatBytes(t.bytesSent)} (${t.opsDone} operations)`);
      out.push(`      lag         ${t.lagMs === 0 ? 'none (idle)' : formatDuration(t.lagMs)}`);
      if (t.connections) out.push(`      connections ${connectionsLine(t.connections)}`);
      if (t.problems > 0) out.push(`      problems    ${t.problems} (see the log)`);
      out.push(`      last error  ${t.lastError ? `${t.lastError.at} ${t.lastError.message}` : 'none'}`);
    }
  }
  return out.join('\n') + '\n';
}

/**
 * The daemon's status in one line, for systemd's STATUS= (`systemctl status` shows it): per
 * target the same figures as `status` (state, queued, in flight, sent, lag), in its words.
 */
export function formatStatusLine(s: Pick<DaemonStatus, 'targets'>): string {
  if (s.targets.length === 0) return 'no target';
  return s.targets
    .map((t) => {
      const lag = t.lagMs === 0 ? 'none' : formatDuration(t.lagMs);
      return `${t.target}: ${stateLine(t)}; queued ${t.queued}, ${t.inFlight} in flight; sent ${t.filesSent} file${t.filesSent === 1 ? '' : 's'}, ${formatBytes(t.bytesSent)}; lag ${lag}`;
    })
    .join(' | ')
    .replace(/[\r\n]+/g, ' ');
}

export function formatStoreReport(name: string, why: string, r: StoreReport): string {
  const out: string[] = [`${name}: not running (${why})`];
  if (!r.exists) {
    out.push(`  state store ${r.path}: none yet (never ran with this state file)`);
    return out.join('\n') + '\n';
  }
  out.push(`  state store ${r.path}${r.error ? `: ${r.error}` : ''}`);
  for (const [source, targets] of groupBySource(r.targets)) {
    out.push(`${source}`);
    for (const t of targets) {
      out.push(`  → ${t.target}`);
      out.push(`      on target   ${t.files} file${t.files === 1 ? '' : 's'} (${formatBytes(t.bytes)}), ${t.dirs} director${t.dirs === 1 ? 'y' : 'ies'}${t.symlinks > 0 ? `, ${t.symlinks} symlinks` : ''}`);
      out.push(`      last change ${t.lastRecordedAt ?? 'never'}`);
      if (t.tempFiles > 0) out.push(`      unfinished  ${t.tempFiles} temp file${t.tempFiles === 1 ? '' : 's'} (removed at next start)`);
    }
  }
  if (r.targets.length === 0 && !r.error) out.push('  (no target recorded yet)');
  out.push('  changes made while stopped are sent at the next start');
  return out.join('\n') + '\n';
}
