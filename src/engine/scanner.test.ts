import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createPathFilter } from '../core/filter.ts';
import { parentOf } from '../core/paths.ts';
import { emptyScan, Scanner } from './scanner.ts';

const root = mkdtempSync(join(tmpdir(), 'scanner-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
// Three levels of directories with files at each level, and an excluded directory.
for (const a of ['a', 'b', 'c']) {
  for (const b of ['x', 'y']) {
    mkdirSync(join(root, a, b, 'deep'), { recursive: true });
    for (const f of ['1', '2', '3']) writeFileSync(join(root, a, b, 'deep', f), f);
    writeFileSync(join(root, a, b, 'f'), b);
  }
  writeFileSync(join(root, a, 'top'), a);
}
mkdirSync(join(root, 'node_modules', 'pkg'), { recursive: true });
writeFileSync(join(root, 'node_modules', 'pkg', 'index.js'), '');

const scanner = () => new Scanner({ root, filter: createPathFilter({ exclude: ['node_modules/'], include: [], ignoreEditorFiles: true, alwaysExcluded: [] }), types: {} });

describe('Scanner.batches', () => {
  it('hands out every entry once, parents first across batches, as scanTree finds them', async () => {
    const into = emptyScan();
    const seen: string[] = [];
    let batches = 0;
    for await (const batch of scanner().batches('', into, 2)) {
      batches++;
      for (const e of batch) {
        assert.ok(e.path === '' || seen.includes(parentOf(e.path)), `${e.path} came before its directory`);
        seen.push(e.path);
      }
    }
    assert.ok(batches > 3, `small batches (${batches})`);
    assert.equal(new Set(seen).size, seen.length, 'each entry once');
    const whole = emptyScan();
    await scanner().scanTree('', whole);
    assert.deepEqual([...seen].sort(), [...whole.entries.keys()].sort());
    assert.deepEqual([...into.entries.keys()].sort(), [...whole.entries.keys()].sort());
    assert.ok(!seen.some((p) => p.startsWith('node_modules')), 'excluded directories are not entered');
  });

  // A first push creates directories in this order (executor.ts): the files of the first
  // directory read are the first ones ready to upload.
  it('goes depth first, into directories in the order they were read', async () => {
    const order: string[] = [];
    for await (const batch of scanner().batches('', emptyScan(), 1)) for (const e of batch) order.push(e.path);
    const firstUnder = (dir: string) => order.findIndex((p) => p.startsWith(`${dir}/`));
    const lastUnder = (dir: string) => order.length - 1 - [...order].reverse().findIndex((p) => p.startsWith(`${dir}/`));
    const tops = readdirSync(root).filter((n) => ['a', 'b', 'c'].includes(n));
    for (let i = 1; i < tops.length; i++) {
      assert.ok(lastUnder(tops[i - 1]!) < firstUnder(tops[i]!), `${tops[i - 1]} (read first) is finished before ${tops[i]} begins: ${order.join(' ')}`);
    }
  });
});

describe('Scanner: names that are not valid UTF-8', () => {
  it('are scanned under their exact names (escaped bytes), subtrees and link texts included', async () => {
    const x = (byte: number) => String.fromCharCode(0xdc00 + byte);
    const base = mkdtempSync(join(tmpdir(), 'scanner-names-'));
    try {
      const b = (...parts: (string | number)[]) => Buffer.concat([Buffer.from(`${base}/`), ...parts.map((p) => (typeof p === 'number' ? Buffer.of(p) : Buffer.from(p)))]);
      mkdirSync(b('dir', 0xff));
      writeFileSync(b('dir', 0xff, '/inner'), 'in');
      writeFileSync(b('bad', 0xff, 'name'), 'bad');
      writeFileSync(b('real\ufffd'), 'a real U+FFFD');
      symlinkSync(Buffer.concat([Buffer.from('bad'), Buffer.of(0xff), Buffer.from('name')]), b('link', 0xfe));
      const into = emptyScan();
      await new Scanner({ root: base, filter: createPathFilter({ exclude: [], include: [], ignoreEditorFiles: true, alwaysExcluded: [] }), types: {} }).scanTree('', into);
      assert.deepEqual([...into.entries.keys()].sort(), ['', `bad${x(0xff)}name`, `dir${x(0xff)}`, `dir${x(0xff)}/inner`, `link${x(0xfe)}`, 'real\ufffd'].sort());
      assert.equal(into.entries.get(`bad${x(0xff)}name`)?.size, 3);
      assert.equal(into.entries.get(`link${x(0xfe)}`)?.linkTarget, `bad${x(0xff)}name`);
      assert.deepEqual(into.problems, []);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
