/**
 * Verifying a result: the target folder must hold exactly the source tree, byte for byte
 * (names, kinds, sizes, contents, link texts; not times or modes). A benchmark whose result
 * differs reports the first differences instead of a time.
 */
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface Entry {
  readonly kind: 'file' | 'dir' | 'link' | 'other';
  readonly size: number;
}

/** Every entry under `root` by relative path (lstat walk, a few directories at a time). */
export async function listTree(root: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const walk = async (rel: string): Promise<void> => {
    const names = await readdir(rel === '' ? root : join(root, rel));
    const subdirs: string[] = [];
    await Promise.all(
      names.map(async (name) => {
        const p = rel === '' ? name : `${rel}/${name}`;
        const st = await lstat(join(root, p));
        const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other';
        out.set(p, { kind, size: kind === 'file' ? st.size : 0 });
        if (kind === 'dir') subdirs.push(p);
      }),
    );
    for (let i = 0; i < subdirs.length; i += 16) await Promise.all(subdirs.slice(i, i + 16).map(walk));
  };
  await walk('');
  return out;
}

/** Paths whose kind or size differ, or that exist on one side only (cheap: no contents). */
export function shapeDifferences(source: Map<string, Entry>, target: Map<string, Entry>, limit = 5): string[] {
  const out: string[] = [];
  for (const [p, e] of source) {
    const t = target.get(p);
    if (t === undefined) out.push(`missing on target: ${p}`);
    else if (t.kind !== e.kind) out.push(`kind differs: ${p} (${e.kind} vs ${t.kind})`);
    else if (t.size !== e.size) out.push(`size differs: ${p} (${e.size} vs ${t.size})`);
    if (out.length >= limit) return out;
  }
  for (const p of target.keys()) {
    if (!source.has(p)) out.push(`extra on target: ${p}`);
    if (out.length >= limit) return out;
  }
  return out;
}

/**
 * The first differences (at most `limit`) between the source and the target tree, or [] when
 * they are identical. `ignore` skips names on both sides (e.g. a tool's state file).
 */
export async function compareTrees(source: string, target: string, options: { limit?: number; ignore?: (rel: string) => boolean } = {}): Promise<string[]> {
  const limit = options.limit ?? 5;
  const keep = (m: Map<string, Entry>) => (options.ignore ? new Map([...m].filter(([p]) => !options.ignore!(p))) : m);
  let a: Map<string, Entry>;
  let b: Map<string, Entry>;
  try {
    [a, b] = await Promise.all([listTree(source).then(keep), listTree(target).then(keep)]);
  } catch (err) {
    return [`cannot list: ${(err as Error).message}`];
  }
  const shape = shapeDifferences(a, b, limit);
  if (shape.length > 0) return shape;
  const out: string[] = [];
  const entries = [...a].filter(([, e]) => e.kind === 'file' || e.kind === 'link');
  for (let i = 0; i < entries.length && out.length < limit; i += 32) {
    await Promise.all(
      entries.slice(i, i + 32).map(async ([p, e]) => {
        if (e.kind === 'link') {
          if ((await readlink(join(source, p))) !== (await readlink(join(target, p)))) out.push(`link differs: ${p}`);
          return;
        }
        const [x, y] = await Promise.all([readFile(join(source, p)), readFile(join(target, p))]);
        if (!x.equals(y)) out.push(`content differs: ${p}`);
      }),
    );
  }
  return out.slice(0, limit);
}
