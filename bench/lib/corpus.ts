/**
 * Deterministic corpora. Every size, name and byte comes from a seeded generator, so two
 * machines (or two runs) build the same trees: sizes from a small PRNG (mulberry32), file
 * contents from AES-128-CTR keystream keyed by the corpus seed and the file's index (fast,
 * incompressible, reproducible).
 *
 * Corpora are built once under WORK/corpora/NAME and reused while their stamp file (the
 * generator version and parameters) matches; tools only ever read them or a copy of them.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const GENERATOR_VERSION = 1;

/** mulberry32: a tiny, good-enough 32-bit PRNG; returns floats in [0, 1). */
export function prng(seed: string): () => number {
  let a = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` reproducible bytes for (seed, index). */
export function contentBytes(seed: string, index: number, length: number): Buffer {
  const key = createHash('sha256').update(`key:${seed}`).digest().subarray(0, 16);
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(index >>> 0, 12);
  iv.writeUInt32BE(Math.floor(index / 2 ** 32), 8);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

export interface CorpusFile {
  readonly path: string;
  readonly size: number;
  readonly index: number;
}

export interface CorpusSpec {
  readonly name: string;
  readonly description: string;
  /** Every file of the corpus, parents implied by the paths. */
  files(): CorpusFile[];
}

/** 10,000 files of 1–16 KiB in 500 leaf directories (20 parents × 25), 20 files each. */
export const SMALL: CorpusSpec = {
  name: 'small-10k',
  description: '10,000 files of 1–16 KiB (uniform) in 500 leaf directories under 20 parents, 80 MiB',
  files() {
    const rnd = prng('small-10k');
    const out: CorpusFile[] = [];
    for (let i = 0; i < 10_000; i++) {
      const leaf = Math.floor(i / 20);
      const dir = `p${String(Math.floor(leaf / 25)).padStart(2, '0')}/d${String(leaf % 25).padStart(2, '0')}`;
      out.push({ path: `${dir}/f${String(i).padStart(5, '0')}.bin`, size: 1024 + Math.floor(rnd() * (16 * 1024 - 1024 + 1)), index: i });
    }
    return out;
  },
};

/**
 * 2,000 files: 20 of 20 MiB, 1,980 log-uniform from 0 B to 2 MiB (some empty) in 40
 * directories, and a 30-level `mkdir -p` chain holding one file at the bottom.
 */
export const MIXED: CorpusSpec = {
  name: 'mixed-2k',
  description: '2,000 files: 20 of 20 MiB + 1,979 log-uniform 0 B–2 MiB in 40 dirs + 1 file at the end of a 30-level chain',
  files() {
    const rnd = prng('mixed-2k');
    const out: CorpusFile[] = [];
    for (let i = 0; i < 20; i++) out.push({ path: `big/b${String(i).padStart(2, '0')}.dat`, size: 20 * 1024 * 1024, index: i });
    for (let i = 20; i < 1999; i++) {
      const r = rnd();
      const size = r < 0.02 ? 0 : Math.floor(Math.exp(rnd() * Math.log(2 * 1024 * 1024)));
      out.push({ path: `m${String(i % 40).padStart(2, '0')}/x${String(i).padStart(4, '0')}.dat`, size, index: i });
    }
    const chain = Array.from({ length: 30 }, (_, l) => `l${String(l + 1).padStart(2, '0')}`).join('/');
    out.push({ path: `deep/${chain}/leaf.txt`, size: 100, index: 1999 });
    return out;
  },
};

/** 100,000 files of 0–2 KiB in 10,000 leaf directories (100 × 100), 10 files each. */
export const SCALE: CorpusSpec = {
  name: 'scale-100k',
  description: '100,000 files of 0–2 KiB in 10,000 leaf directories under 100 parents, ~100 MiB',
  files() {
    const rnd = prng('scale-100k');
    const out: CorpusFile[] = [];
    for (let i = 0; i < 100_000; i++) {
      const leaf = Math.floor(i / 10);
      const dir = `s${String(Math.floor(leaf / 100)).padStart(2, '0')}/t${String(leaf % 100).padStart(2, '0')}`;
      out.push({ path: `${dir}/g${String(i).padStart(6, '0')}`, size: Math.floor(rnd() * 2049), index: i });
    }
    return out;
  },
};

export const CORPORA: Record<string, CorpusSpec> = { [SMALL.name]: SMALL, [MIXED.name]: MIXED, [SCALE.name]: SCALE };

/** Build (or reuse) the corpus under `workDir/corpora/NAME`; returns its path. */
export function ensureCorpus(workDir: string, spec: CorpusSpec, log: (s: string) => void): string {
  const dir = join(workDir, 'corpora', spec.name);
  const stampFile = join(workDir, 'corpora', `${spec.name}.stamp`);
  const stamp = JSON.stringify({ v: GENERATOR_VERSION, name: spec.name, description: spec.description });
  if (existsSync(dir) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return dir;
  log(`generating corpus ${spec.name}: ${spec.description}`);
  rmSync(dir, { recursive: true, force: true });
  rmSync(stampFile, { force: true });
  const made = new Set<string>();
  for (const f of spec.files()) {
    const parent = join(dir, f.path, '..');
    if (!made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    writeFileSync(join(dir, f.path), contentBytes(spec.name, f.index, f.size));
  }
  writeFileSync(stampFile, stamp);
  return dir;
}

/**
 * The incremental change set on a copy of SMALL: 100 files rewritten (new content and size),
 * 100 deleted, 10 leaf directories (20 files each) renamed. The three sets are disjoint and
 * the same every time. Returns a one-line summary.
 */
export function mutateSmall(dir: string): string {
  const rnd = prng('small-10k-mutation');
  const files = SMALL.files();
  const leaves = new Set<number>();
  while (leaves.size < 10) leaves.add(Math.floor(rnd() * 500));
  const candidates = files.filter((f) => !leaves.has(Math.floor(f.index / 20)));
  const picked = new Set<number>();
  while (picked.size < 200) picked.add(Math.floor(rnd() * candidates.length));
  const order = [...picked].map((i) => candidates[i] as CorpusFile);
  order.slice(0, 100).forEach((f, n) => writeFileSync(join(dir, f.path), contentBytes('small-10k-changed', n, 512 + Math.floor(rnd() * 20_000))));
  for (const f of order.slice(100)) rmSync(join(dir, f.path));
  for (const leaf of leaves) {
    const parent = `p${String(Math.floor(leaf / 25)).padStart(2, '0')}`;
    const name = `d${String(leaf % 25).padStart(2, '0')}`;
    renameSync(join(dir, parent, name), join(dir, parent, `${name}-renamed`));
  }
  return '100 files rewritten, 100 deleted, 10 directories (20 files each) renamed';
}
