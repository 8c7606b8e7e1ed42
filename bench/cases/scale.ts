/**
 * The 100,000-file tree (10,000 directories):
 *
 *   restart-100k  no-change restart: each tool first pushes the tree into its own empty target
 *                 (untimed, verified by names and sizes), then the same command again with
 *                 nothing changed, timed. Ours reconciles against its state store and must not
 *                 list the target; rsync and rclone walk both sides.
 *   idle-100k     ours (`run`) and lsyncd (default.rsync) watching the tree with the target
 *                 already in sync: time until live, resident memory (now and peak), and CPU
 *                 used over 30 s of idleness.
 *
 * These take minutes per run, so they default to fewer runs (say so in the table).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCorpus, SCALE } from '../lib/corpus.ts';
import { lsyncdDaemon, oursDaemon, type DaemonTool } from '../lib/daemons.ts';
import { removeDest, type EndpointId } from '../lib/endpoints.ts';
import { cpuMs, rssBytes, sleep, timed } from '../lib/proc.ts';
import { formatBytes, formatMs, markdownTable, ratio } from '../lib/stats.ts';
import { oursCommand, pushersFor } from '../lib/tools.ts';
import { listTree, shapeDifferences } from '../lib/tree.ts';
import { slug, timeTable, type CaseResult, type Context, type TimeRow } from '../lib/context.ts';

export async function runRestartCase(ctx: Context, id: string, endpoint: EndpointId): Promise<CaseResult> {
  const ep = await ctx.endpoint(endpoint);
  const corpus = ensureCorpus(ctx.workDir, SCALE, (s) => ctx.log(s));
  const expected = await listTree(corpus);
  const pushers = pushersFor(ep).filter((p) => !p.initialOnly && !p.name.startsWith('lftp'));
  const rows: TimeRow[] = [];
  const firstPush = new Map<string, number>();
  for (const p of pushers) {
    const row: TimeRow = { tool: p.name, ours: p.ours === true, ms: [], failures: [], extra: {} };
    rows.push(row);
    const scratch = ctx.scratch(`${id}-${slug(p.name)}`);
    const dest = ep.fresh(`${id}-${slug(p.name)}`);
    try {
      ctx.log(`${id}: ${p.name}: first push of 100k files (untimed for the table)`);
      const first = await timed(p.command(corpus, dest, scratch), 60 * 60_000);
      firstPush.set(p.name, first.ms);
      row.extra!['first push'] = formatMs(first.ms);
      const diff = shapeDifferences(expected, await listTree(dest.disk), 3);
      if (first.code !== 0 || diff.length > 0) {
        row.failures.push(`first push: exit ${first.code}; ${diff.join('; ') || first.tail.slice(-200)}`);
        continue;
      }
      for (let run = 0; run < ctx.runs; run++) {
        const r = await timed(p.command(corpus, dest, scratch));
        const d = shapeDifferences(expected, await listTree(dest.disk), 3);
        if (r.code !== 0 || d.length > 0) row.failures.push(`exit ${r.code}; ${d.join('; ') || r.tail.slice(-200)}`);
        else row.ms.push(r.ms);
        ctx.log(`  no-change run ${run + 1}: ${formatMs(r.ms)}${p.ours ? `, ${r.lines} lines of output` : ''}`);
      }
    } finally {
      removeDest(dest);
    }
  }
  const { table, ratios } = timeTable(rows, ['first push']);
  return {
    id,
    title: `No-change restart on 100,000 files, ${ep.label}`,
    work: `${SCALE.description}. Each tool pushes it once into its own empty target (the "first push" column, one run), then runs the same command again with nothing changed (timed; medians of ${ctx.runs} runs). Verified by names and sizes.`,
    table,
    notes: ['Goal: reconcile in under 3 s without listing the remote.', 'Fewer runs than the other cases: every tool first has to push 100,000 files.'],
    ratios,
  };
}

function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export async function runIdleCase(ctx: Context, id: string): Promise<CaseResult> {
  const ep = await ctx.endpoint('local');
  const corpus = ensureCorpus(ctx.workDir, SCALE, (s) => ctx.log(s));
  const idleSec = ctx.quick ? 10 : 30;
  const tools: DaemonTool[] = [oursDaemon(ep), lsyncdDaemon(ep, 1)];
  const rows: string[][] = [];
  const ratios: string[] = [];
  let oursRss = NaN;
  for (const tool of tools) {
    const scratch = ctx.scratch(`${id}-${slug(tool.name)}`);
    const src = join(scratch, 'src');
    const dest = ep.fresh(`${id}-${slug(tool.name)}`);
    ctx.log(`${id}: ${tool.name}: copying the 100k tree into the source and the target`);
    await timed({ argv: ['cp', '-a', corpus, src] });
    await timed({ argv: ['cp', '-a', `${corpus}/.`, dest.disk] });
    if (tool.ours) {
      // Our state store must know the target holds the tree: one `once` records it (adoption).
      const r = await timed(oursCommand('once', scratch, src, ep, dest));
      if (r.code !== 0) throw new Error(`sync-inotify once failed: ${r.tail}`);
    }
    let proc;
    try {
      const t0 = performance.now();
      proc = await tool.start(src, dest, scratch);
      const liveMs = performance.now() - t0;
      await sleep(5000);
      const cpu0 = cpuMs(proc.pid);
      const tIdle = performance.now();
      await sleep(idleSec * 1000);
      const cpuUsed = cpuMs(proc.pid) - cpu0;
      const wall = performance.now() - tIdle;
      const rss = rssBytes(proc.pid);
      const peak = peakRss(proc.pid);
      if (tool.ours) oursRss = rss;
      else ratios.push(`${tool.name}: RSS ${formatBytes(rss)} vs ours ${formatBytes(oursRss)} → ${ratio(rss, oursRss)}`);
      rows.push([tool.ours ? `**${tool.name}**` : tool.name, formatMs(liveMs), formatBytes(rss), formatBytes(peak), `${formatMs(cpuUsed)} (${((cpuUsed / wall) * 100).toFixed(2)} %)`]);
      ctx.log(`  live after ${formatMs(liveMs)}, RSS ${formatBytes(rss)} (peak ${formatBytes(peak)}), CPU ${formatMs(cpuUsed)} in ${idleSec} s`);
    } catch (err) {
      rows.push([tool.name, '—', '—', '—', `could not run: ${(err as Error).message.split('\n')[0]}`]);
    } finally {
      await proc?.stop();
      removeDest(dest);
    }
  }
  return {
    id,
    title: 'Watching 100,000 files in 10,000 directories: memory and idle CPU',
    work: `${SCALE.description}, the target (a local folder) already in sync. "live" is from the start of the process until a probe file written into the source arrives on the target (for ours: start-up, full reconcile against the state store, 10,000 watches). RSS from /proc (VmRSS, VmHWM) of the main process; CPU (user + system) over ${idleSec} s with nothing changing, starting 5 s after live. One run.`,
    table: markdownTable(['tool', 'live after', 'RSS', 'peak RSS', `CPU in ${idleSec} s idle`], rows),
    notes: ['Goal: under 150 MB resident, ~0 CPU when idle.', 'lsyncd keeps only inotify watches and a Lua table of directories; its rsync runs are separate processes (not counted).'],
    ratios,
  };
}
