/**
 * Steady-state latency: with the tool already running and idle, files are written into the
 * watched folder at a fixed pace (open-loop: the next write does not wait for the previous
 * one to arrive), and a tight poll of the target folder on disk records when each write's
 * complete content is there. Everything runs in this process: the writer's clock and the
 * poller's are the same.
 *
 * Writes: 200 by default, every 100 ms, to 40 files `w/f0..f39` (the first 40 create them,
 * the rest overwrite them at the same size: 4 KiB with a sequence number in the first line).
 * Write k counts as arrived when the target's file holds write k's bytes or a later write's
 * of the same file (it then reflects at least write k). After the last write the case waits
 * as long as writes keep arriving (a slow tool is late, not wrong); a write that has not
 * arrived once nothing moved for the tool's delay + 5 s is missed. The final tree is compared
 * too.
 */
import { chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contentBytes } from '../lib/corpus.ts';
import { latencyToolsFor, type DaemonTool } from '../lib/daemons.ts';
import { removeDest, type EndpointId } from '../lib/endpoints.ts';
import { sleep } from '../lib/proc.ts';
import { formatMs, markdownTable, percentile, ratio } from '../lib/stats.ts';
import { compareTrees } from '../lib/tree.ts';
import { slug, type CaseResult, type Context } from '../lib/context.ts';

const SIZE = 4096;
const FILES = 40;

function payload(seq: number): Buffer {
  const head = Buffer.from(`seq=${String(seq).padStart(6, '0')}\n`);
  return Buffer.concat([head, contentBytes('latency', seq, SIZE - head.length)]);
}

/** The sequence number in a target file when it holds one complete write, else undefined. */
function arrivedSeq(file: string): number | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  if (data.length !== SIZE) return undefined;
  const m = /^seq=(\d{6})\n/.exec(data.subarray(0, 11).toString('latin1'));
  if (!m) return undefined;
  const seq = Number(m[1]);
  return payload(seq).equals(data) ? seq : undefined;
}

interface Series {
  readonly latencies: number[];
  readonly missed: number;
  readonly finalTree: string;
}

async function measure(ctx: Context, tool: DaemonTool, src: string, destDisk: string, writes: number, intervalMs: number): Promise<Series> {
  const started = new Array<number>(writes).fill(NaN);
  const arrived = new Array<number>(writes).fill(NaN);
  const lastSeqOf = new Map<number, number>(); // file → highest seq already seen arrived
  let writing = true;
  const poll = async () => {
    while (writing || arrived.some((a, i) => Number.isNaN(a) && !Number.isNaN(started[i] as number))) {
      const now = performance.now();
      for (let f = 0; f < FILES; f++) {
        // Only files with a write still in flight.
        let oldestPending = -1;
        for (let k = f; k < writes; k += FILES) {
          if (!Number.isNaN(started[k] as number) && Number.isNaN(arrived[k] as number)) {
            oldestPending = k;
            break;
          }
        }
        if (oldestPending < 0) continue;
        const seq = arrivedSeq(join(destDisk, 'w', `f${f}`));
        if (seq === undefined || seq < oldestPending || seq === lastSeqOf.get(f)) continue;
        lastSeqOf.set(f, seq);
        for (let k = f; k <= seq; k += FILES) if (Number.isNaN(arrived[k] as number) && !Number.isNaN(started[k] as number)) arrived[k] = now;
      }
      if (stopPolling) break;
      await sleep(1);
    }
  };
  let stopPolling = false;
  const polling = poll();
  const t0 = performance.now();
  for (let k = 0; k < writes; k++) {
    const due = t0 + k * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    started[k] = performance.now();
    writeFileSync(join(src, 'w', `f${k % FILES}`), payload(k));
  }
  writing = false;
  // Wait while writes keep arriving; give up after the tool's delay + 5 s without progress.
  let progressAt = performance.now();
  let count = 0;
  while (arrived.some((a) => Number.isNaN(a)) && performance.now() - progressAt < tool.delayMs + 5000) {
    await sleep(20);
    const now = arrived.filter((a) => !Number.isNaN(a)).length;
    if (now !== count) [count, progressAt] = [now, performance.now()];
  }
  stopPolling = true;
  await polling;
  const latencies = arrived.map((a, k) => a - (started[k] as number)).filter((x) => Number.isFinite(x));
  // Let a tool that is still busy finish before the final comparison (it may have been slow, not wrong).
  await sleep(Math.min(tool.delayMs, 3000) + 1000);
  const diff = await compareTrees(src, destDisk, { limit: 2 });
  ctx.log(`  ${tool.name}: p50 ${formatMs(percentile(latencies, 50))}, p99 ${formatMs(percentile(latencies, 99))}, missed ${writes - latencies.length}, ${diff.length ? 'final tree WRONG' : 'final tree right'}`);
  return { latencies, missed: writes - latencies.length, finalTree: diff.length === 0 ? 'right' : `WRONG: ${diff.join('; ')}` };
}

export async function runLatencyCase(ctx: Context, id: string, endpoint: EndpointId): Promise<CaseResult> {
  const ep = await ctx.endpoint(endpoint);
  const writes = ctx.quick ? 50 : 200;
  const intervalMs = 100;
  const rows: string[][] = [];
  const ratios: string[] = [];
  let oursP50 = NaN;
  let oursP99 = NaN;
  for (const tool of latencyToolsFor(ep)) {
    const scratch = ctx.scratch(`${id}-${slug(tool.name)}`);
    const src = join(scratch, 'src');
    mkdirSync(join(src, 'w'), { recursive: true });
    const dest = ep.fresh(`${id}-${slug(tool.name)}`);
    mkdirSync(join(dest.disk, 'w'), { recursive: true }); // the put loop cannot create directories
    const owner = statSync(dest.disk); // an FTP server's user must be able to write there
    chownSync(join(dest.disk, 'w'), owner.uid, owner.gid);
    ctx.log(`${id}: ${tool.name}`);
    let proc;
    try {
      proc = await tool.start(src, dest, scratch);
      await sleep(500);
      const s = await measure(ctx, tool, src, dest.disk, writes, intervalMs);
      const [p50, p95, p99] = [50, 95, 99].map((p) => percentile(s.latencies, p)) as [number, number, number];
      if (tool.ours) [oursP50, oursP99] = [p50, p99];
      else if (Number.isFinite(oursP50)) ratios.push(`${tool.name}: p50 ${formatMs(p50)} vs ours ${formatMs(oursP50)} → ${ratio(p50, oursP50)}; p99 ${ratio(p99, oursP99)}`);
      rows.push([
        tool.ours ? `**${tool.name}**` : tool.name,
        formatMs(p50),
        formatMs(p95),
        formatMs(p99),
        formatMs(Math.max(...s.latencies)),
        tool.ours ? '1×' : ratio(p50, oursP50),
        `${s.missed} of ${writes}`,
        s.finalTree,
      ]);
    } catch (err) {
      ctx.log(`  ${tool.name}: could not run: ${(err as Error).message}`);
      rows.push([tool.name, '—', '—', '—', '—', '—', '—', `could not run: ${(err as Error).message.split('\n')[0]}`]);
    } finally {
      await proc?.stop();
      removeDest(dest);
    }
  }
  return {
    id,
    title: `Change → complete on the target, ${ep.label}`,
    work: `${writes} writes of 4 KiB, one every ${intervalMs} ms, to 40 files (40 creates, then same-size overwrites), with the tool running and idle; latency from the start of each write until the target holds that write's complete content (polled every ~1 ms on disk). One series per tool.`,
    table: markdownTable(['tool', 'p50', 'p95', 'p99', 'max', 'p50 / ours', 'missed writes', 'final tree'], rows),
    notes: [
      endpoint === 'local' ? 'Goal: p50 under 25 ms for a local folder, with default settings.' : `Goal: p50 under 40 ms and p99 under 120 ms over ${ep.rsync ? 'rsync' : ep.ssh ? 'SFTP' : 'FTP'}, with default settings${ep.rsync ? '; against lsyncd: at least 4× lower p50 than its best' : ''}.`,
      ...(ep.ftp ? ['lsyncd cannot push over FTP; the peer is the inotifywait | lftp loop users script.'] : ["lsyncd's default delay is 15 s: its rows show what users get without tuning."]),
    ],
    ratios,
  };
}
