/**
 * Giving back the memory a large cycle used. A reconcile of 100,000 files builds two maps of
 * 100,000 entries, a plan and their strings: a hundred MB of garbage at the end. V8 collects
 * it only when JavaScript allocates again, and an idle daemon allocates nothing, so it stayed
 * resident for hours (README: Memory). After a cycle that looked at many entries, once every
 * target has been quiet for a moment, one full collection is run: a few tens of milliseconds
 * of one thread, once per large cycle.
 *
 * `gc` is V8's own, exposed the way jest's leak detector does it (v8.setFlagsFromString plus a
 * fresh context); a process started with --expose-gc already has it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Entries a cycle must look at for its garbage to be worth a full collection. */
export const LARGE_CYCLE_ENTRIES = 5_000;
/** Quiet time after the last large cycle before collecting (cycles of a burst come in a row). */
const QUIET_MS = 1_000;
/**
 * A second collection, this long after the first: V8 gives back the young generation's pages
 * (grown to 32 MB by a scan of 100,000 entries) only in a collection that finds the allocation
 * rate low, which it measures over the last seconds; the first, right after the cycle, does
 * not, a later one in a still idle process does (measured on Node 20: 30 MB → 1 MB).
 */
const SETTLED_MS = 10_000;

type GcFn = () => void;

let gcFn: GcFn | null | undefined;

function gcFunction(): GcFn | null {
  if (gcFn !== undefined) return gcFn;
  const existing = (globalThis as { gc?: GcFn }).gc;
  if (typeof existing === 'function') return (gcFn = existing);
  try {
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    gcFn = typeof fn === 'function' ? (fn as GcFn) : null;
  } catch {
    gcFn = null; // a runtime without it: memory is then given back at V8's own pace
  }
  return gcFn;
}

/** One full collection now; false when the runtime offers none. */
export function collectGarbage(): boolean {
  const gc = gcFunction();
  if (!gc) return false;
  gc();
  return true;
}

let timers: NodeJS.Timeout[] = [];

/**
 * Asks for a collection QUIET_MS after the last call, and another SETTLED_MS after it (one
 * pair of timers for the whole process, so several targets ending their reconcile together
 * cost one pair). Unref'd: they never keep a process alive.
 */
export function releaseMemorySoon(): void {
  for (const t of timers) clearTimeout(t);
  timers = [QUIET_MS, SETTLED_MS].map((ms) => setTimeout(() => collectGarbage(), ms).unref());
}
