/**
 * Push cases: every tool mirrors the same corpus to a fresh target folder of the same
 * endpoint, in the same run, and the result is compared byte for byte with the source.
 *
 *   initial      first push of a corpus into an empty folder (wall time of the command,
 *                including our CLI's start-up).
 *   incremental  on a copy of the 10k corpus: push (untimed, verified), then 100 files
 *                rewritten, 100 deleted and 10 directories renamed, then the same command
 *                again (timed, verified). Ours keeps its state database between the two.
 *
 * The order of the tools rotates from run to run so none always goes first (cold caches,
 * server warm-up).
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCorpus, mutateSmall, type CorpusSpec, MIXED, SMALL } from '../lib/corpus.ts';
import { removeDest, type EndpointId } from '../lib/endpoints.ts';
import { timed } from '../lib/proc.ts';
import { pushersFor, type Pusher } from '../lib/tools.ts';
import { compareTrees } from '../lib/tree.ts';
import { median } from '../lib/stats.ts';
import { slug, timeTable, type CaseResult, type Context, type TimeRow } from '../lib/context.ts';

export interface PushCase {
  readonly id: string;
  readonly endpoint: EndpointId;
  readonly corpus: CorpusSpec;
  readonly incremental: boolean;
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const n = by % items.length;
  return [...items.slice(n), ...items.slice(0, n)];
}

/** Runs the tool once and verifies; returns the time or the first difference. */
async function pushOnce(ctx: Context, p: Pusher, src: string, dest: { disk: string; remote: string }, scratch: string): Promise<{ ms: number; ops: Record<string, number> } | { failure: string }> {
  const r = await timed(p.command(src, dest, scratch));
  if (r.code !== 0) return { failure: `exit ${r.code}: ${r.tail.trim().split('\n').slice(-3).join(' / ').slice(0, 300)}` };
  const diff = await compareTrees(src, dest.disk, { limit: 3 });
  if (diff.length > 0) return { failure: `wrong tree: ${diff.join('; ')}` };
  ctx.log(`  ${p.name}: ${(r.ms / 1000).toFixed(2)} s, verified`);
  return { ms: r.ms, ops: r.ops };
}

/** "9,800 put, 10 rename, …" */
function describeOps(ops: Record<string, number>): string {
  const parts = Object.entries(ops).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`);
  return parts.length ? parts.join(', ') : 'none';
}

export async function runPushCase(ctx: Context, c: PushCase): Promise<CaseResult> {
  const ep = await ctx.endpoint(c.endpoint);
  const corpus = ensureCorpus(ctx.workDir, c.corpus, (s) => ctx.log(s));
  const pushers = pushersFor(ep).filter((p) => !(c.incremental && p.initialOnly));
  const rows = new Map<string, TimeRow>(pushers.map((p) => [p.name, { tool: p.name, ours: p.ours === true, ms: [], failures: [], extra: {} }]));
  let change = '';
  for (let run = 0; run < ctx.runs; run++) {
    ctx.log(`${c.id}: run ${run + 1}/${ctx.runs}`);
    for (const p of rotate(pushers, run)) {
      const row = rows.get(p.name) as TimeRow;
      const scratch = ctx.scratch(`${c.id}-${slug(p.name)}`);
      const dest = ep.fresh(`${c.id}-${slug(p.name)}`);
      try {
        let src = corpus;
        if (c.incremental) {
          src = join(scratch, 'src');
          cpSync(corpus, src, { recursive: true, preserveTimestamps: true });
          const first = await pushOnce(ctx, p, src, dest, scratch);
          if ('failure' in first) {
            row.failures.push(`first push: ${first.failure}`);
            continue;
          }
          change = mutateSmall(src);
        }
        const r = await pushOnce(ctx, p, src, dest, scratch);
        if ('failure' in r) {
          ctx.log(`  ${p.name}: FAILED ${r.failure}`);
          row.failures.push(r.failure);
        } else {
          row.ms.push(r.ms);
          if (p.ours) row.extra!['our operations (last run)'] = describeOps(r.ops);
        }
      } finally {
        removeDest(dest);
      }
    }
  }
  const oursRow = [...rows.values()].find((r) => r.ours);
  if (oursRow && oursRow.failures.length === 0 && oursRow.ms.length > 0) ctx.figures.set(c.id, median(oursRow.ms));
  const { table, ratios } = timeTable([...rows.values()], ['our operations (last run)']);
  const what = c.incremental
    ? `${c.corpus.description}, already pushed; then ${change}; the same command again`
    : `${c.corpus.description} into an empty folder`;
  return {
    id: c.id,
    title: `${c.incremental ? 'Incremental push' : 'Initial push'}${c.corpus === MIXED ? ' (mixed sizes)' : ''}, ${ep.label}`,
    work: `${what}. Wall time of each command from start to exit (ours includes its ~0.06 s start-up); medians of ${ctx.runs} runs.`,
    table,
    notes: [],
    ratios,
  };
}

export const PUSH_CASES: PushCase[] = [
  { id: 'initial-local', endpoint: 'local', corpus: SMALL, incremental: false },
  { id: 'initial-sftp', endpoint: 'sftp', corpus: SMALL, incremental: false },
  { id: 'initial-vsftpd', endpoint: 'vsftpd', corpus: SMALL, incremental: false },
  { id: 'initial-pure-ftpd', endpoint: 'pure-ftpd', corpus: SMALL, incremental: false },
  { id: 'initial-mixed-local', endpoint: 'local', corpus: MIXED, incremental: false },
  { id: 'initial-mixed-sftp', endpoint: 'sftp', corpus: MIXED, incremental: false },
  { id: 'initial-rsync-ssh', endpoint: 'rsync-ssh', corpus: SMALL, incremental: false },
  { id: 'initial-rsyncd', endpoint: 'rsyncd', corpus: SMALL, incremental: false },
  { id: 'incremental-local', endpoint: 'local', corpus: SMALL, incremental: true },
  { id: 'incremental-sftp', endpoint: 'sftp', corpus: SMALL, incremental: true },
];
