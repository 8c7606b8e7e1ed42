/**
 * Lists a whole target tree with a few listings in flight (targets pool connections).
 * Temp files of ours are included: callers decide what to do with them.
 */
import type { RemoteEntry, Target } from './target.ts';

export async function walkTarget(target: Target, dir = '', parallel = 4): Promise<RemoteEntry[]> {
  const out: RemoteEntry[] = [];
  const queue = [dir];
  const worker = async () => {
    while (queue.length > 0) {
      const d = queue.pop()!;
      for (const e of await target.list(d)) {
        out.push(e);
        if (e.kind === 'dir') queue.push(e.path);
      }
    }
  };
  while (queue.length > 0) await Promise.all(Array.from({ length: parallel }, worker));
  return out;
}
