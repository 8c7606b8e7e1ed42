/**
 * What every case gets: the work folder, the number of runs, a logger, shared endpoints
 * (servers are started once per benchmark run and stopped at the end), and the shape of a
 * result (a titled Markdown table with notes and the key ratios).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openEndpoint, type Endpoint, type EndpointId } from './endpoints.ts';
import { formatMs, markdownTable, median, ratio } from './stats.ts';

export interface CaseResult {
  readonly id: string;
  readonly title: string;
  /** What was done, in one or two sentences. */
  readonly work: string;
  readonly table: string;
  readonly notes: readonly string[];
  /** One line per peer: "peer / ours = r×" style key figures. */
  readonly ratios: readonly string[];
}

export class Context {
  private readonly endpoints = new Map<EndpointId, Promise<Endpoint>>();

  constructor(
    readonly workDir: string,
    readonly runs: number,
    readonly quick: boolean,
    /** Figures shared between cases of one benchmark run, e.g. `initial-local` → ours' median ms. */
    readonly figures: Map<string, number> = new Map(),
  ) {
    mkdirSync(workDir, { recursive: true });
  }

  log(message: string): void {
    process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  }

  endpoint(id: EndpointId): Promise<Endpoint> {
    let ep = this.endpoints.get(id);
    if (ep === undefined) {
      ep = openEndpoint(id, this.workDir);
      this.endpoints.set(id, ep);
    }
    return ep;
  }

  /** A fresh, empty scratch folder (tool configs, state files, source copies). */
  scratch(name: string): string {
    const dir = join(this.workDir, 'scratch', name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  async close(): Promise<void> {
    for (const ep of this.endpoints.values()) await (await ep.catch(() => undefined))?.close();
    this.endpoints.clear();
    rmSync(join(this.workDir, 'scratch'), { recursive: true, force: true });
  }
}

/** One tool's timed runs; `failures` holds the first difference of each failed run. */
export interface TimeRow {
  readonly tool: string;
  readonly ours: boolean;
  readonly ms: number[];
  readonly failures: string[];
  /** Extra columns, e.g. operation counts. */
  readonly extra?: Record<string, string>;
}

/**
 * | tool | median | runs | peer/ours | result |. A tool with any failed run shows FAILED and
 * no median: a wrong tree is not a time.
 */
export function timeTable(rows: readonly TimeRow[], extraColumns: readonly string[] = []): { table: string; ratios: string[] } {
  const oursRow = rows.find((r) => r.ours);
  const oursMedian = oursRow && oursRow.failures.length === 0 ? median(oursRow.ms) : NaN;
  const ratios: string[] = [];
  const body = rows.map((r) => {
    const ok = r.failures.length === 0 && r.ms.length > 0;
    const m = ok ? median(r.ms) : NaN;
    if (!r.ours && ok && Number.isFinite(oursMedian)) ratios.push(`${r.tool}: ${formatMs(m)} vs ours ${formatMs(oursMedian)} → ${ratio(m, oursMedian)}`);
    return [
      r.ours ? `**${r.tool}**` : r.tool,
      ok ? formatMs(m) : 'FAILED',
      r.ms.map(formatMs).join(', ') || '—',
      r.ours ? '1×' : ratio(m, oursMedian),
      ok ? 'verified' : `${r.failures.length} failed: ${r.failures[0] ?? 'no runs'}`,
      ...extraColumns.map((c) => r.extra?.[c] ?? ''),
    ];
  });
  return { table: markdownTable(['tool', 'median', 'runs', 'time / ours', 'result', ...extraColumns], body), ratios };
}

/** Shorten a tool name into a folder name. */
export function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase();
}
