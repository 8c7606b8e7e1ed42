/**
 * A 10,000-file burst while running: the tool watches an empty folder (live: a probe file
 * went through), then `cp -r` copies the 10k corpus into it. The time runs from the start of
 * the copy until the target holds the whole tree (polled every 100 ms by names and sizes),
 * then the contents are verified. For ours, the operations it logged are counted too: the
 * goal is no more than one per file and directory.
 */
import { join } from 'node:path';
import { ensureCorpus, SMALL } from '../lib/corpus.ts';
import { burstToolsFor } from '../lib/daemons.ts';
import { removeDest, type EndpointId } from '../lib/endpoints.ts';
import { sleep, timed } from '../lib/proc.ts';
import { formatMs, median } from '../lib/stats.ts';
import { compareTrees, listTree, shapeDifferences } from '../lib/tree.ts';
import { slug, timeTable, type CaseResult, type Context, type TimeRow } from '../lib/context.ts';

const OP_LINE = /^\S+ (put|rename|mkdir|remove|rmdir|rmdir -r|symlink) "/gm;

export async function runBurstCase(ctx: Context, id: string, endpoint: EndpointId): Promise<CaseResult> {
  const ep = await ctx.endpoint(endpoint);
  const corpus = ensureCorpus(ctx.workDir, SMALL, (s) => ctx.log(s));
  const expected = await listTree(corpus);
  const dirs = [...expected.values()].filter((e) => e.kind === 'dir').length + 1;
  const files = expected.size - dirs + 1;
  const tools = burstToolsFor(ep);
  const rows = new Map<string, TimeRow>(tools.map((t) => [t.name, { tool: t.name, ours: t.ours === true, ms: [], failures: [], extra: {} }]));
  const opsSeen: number[] = [];
  const copyMs: number[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    for (const tool of tools) {
      const row = rows.get(tool.name) as TimeRow;
      const scratch = ctx.scratch(`${id}-${slug(tool.name)}`);
      const src = join(scratch, 'src');
      const dest = ep.fresh(`${id}-${slug(tool.name)}`);
      await timed({ argv: ['mkdir', '-p', src] });
      ctx.log(`${id}: run ${run + 1}/${ctx.runs}, ${tool.name}`);
      let proc;
      try {
        proc = await tool.start(src, dest, scratch);
        await sleep(500);
        const opsBefore = [...proc.output.matchAll(OP_LINE)].length;
        const t0 = performance.now();
        const copy = timed({ argv: ['cp', '-r', corpus, join(src, 'burst')] });
        let doneAt = NaN;
        const deadline = t0 + 300_000;
        while (performance.now() < deadline) {
          await sleep(100);
          const got = await listTree(join(dest.disk, 'burst')).catch(() => new Map());
          if (got.size === expected.size && shapeDifferences(expected, got, 1).length === 0) {
            doneAt = performance.now();
            break;
          }
          if (!proc.running) break;
        }
        copyMs.push((await copy).ms);
        if (Number.isNaN(doneAt)) {
          row.failures.push(`the tree was not complete after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
          continue;
        }
        await sleep(tool.ours ? 300 : 1000);
        const diff = await compareTrees(src, dest.disk, { limit: 3, ignore: (p) => p === '.bench-probe' });
        if (diff.length > 0) {
          row.failures.push(`wrong tree: ${diff.join('; ')}`);
          continue;
        }
        row.ms.push(doneAt - t0);
        if (tool.ours) opsSeen.push([...proc.output.matchAll(OP_LINE)].length - opsBefore);
        ctx.log(`  ${tool.name}: ${formatMs(doneAt - t0)}, verified`);
      } catch (err) {
        row.failures.push(`could not run: ${(err as Error).message.split('\n')[0]}`);
      } finally {
        await proc?.stop();
        removeDest(dest);
      }
    }
  }
  const oursRow = [...rows.values()].find((r) => r.ours);
  if (oursRow) oursRow.extra!['operations'] = opsSeen.length ? `${median(opsSeen)} (files + dirs: ${files + dirs})` : '';
  const { table, ratios } = timeTable([...rows.values()], ['operations']);
  const initial = ctx.figures.get(`initial-${endpoint}`);
  return {
    id,
    title: `10,000-file burst while running, ${ep.label}`,
    work: `With the tool running and idle, \`cp -r\` copies the 10k corpus (${files} files, ${dirs} directories with the parent) into the watched folder; time from the start of the copy until the target holds the complete tree (names and sizes polled every 100 ms, contents verified after). The copy itself took ${formatMs(median(copyMs))} (median). Medians of ${ctx.runs} runs.`,
    table,
    notes: [
      `Goal: no slower than our initial push of the same files${initial !== undefined ? ` (${formatMs(initial)} in this run, including start-up)` : ''}, with no more operations than files + directories.`,
    ],
    ratios,
  };
}
