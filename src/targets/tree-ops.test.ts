/** The generic tree operations on a real target (LocalTarget on a temp folder). */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isTargetError } from './errors.ts';
import { LocalTarget } from './local/local-target.ts';
import { mkdirParents, removeTree } from './tree-ops.ts';

describe('removeTree and mkdirParents (built on list/remove/rmdir/stat/mkdir)', () => {
  const base = mkdtempSync(join(tmpdir(), 'tree-ops-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  it('removes a tree children first, and nothing beside it; a link is removed, not followed', async () => {
    const root = join(base, 'r1');
    const outside = join(base, 'outside');
    mkdirSync(join(root, 'a/b/c'), { recursive: true });
    mkdirSync(join(root, 'keep'));
    mkdirSync(outside);
    writeFileSync(join(outside, 'precious'), 'x');
    writeFileSync(join(root, 'a/f'), '1');
    writeFileSync(join(root, 'a/b/c/g'), '2');
    writeFileSync(join(root, 'keep/h'), '3');
    symlinkSync(outside, join(root, 'a/b/link'));
    const t = new LocalTarget(root);
    await t.connect();
    await removeTree(t, 'a', 3);
    assert.deepEqual(readdirSync(root), ['keep']);
    assert.ok(existsSync(join(root, 'keep/h')));
    assert.deepEqual(readdirSync(outside), ['precious'], 'what the link pointed at is untouched');
    await removeTree(t, 'a'); // gone already: resolves
  });

  it('refuses to remove the target root', async () => {
    const t = new LocalTarget(join(base, 'r1'));
    await assert.rejects(removeTree(t, ''), (e: unknown) => isTargetError(e) && e.code === 'E_PERMISSION');
    assert.ok(existsSync(join(base, 'r1/keep/h')));
  });

  it('mkdirParents makes the missing levels, is idempotent, and stops at a file in the way', async () => {
    const root = join(base, 'r2');
    mkdirSync(join(root, 'x'), { recursive: true });
    writeFileSync(join(root, 'file'), 'f');
    const t = new LocalTarget(root);
    await t.connect();
    await mkdirParents(t, 'x/y/z');
    assert.ok(existsSync(join(root, 'x/y/z')));
    await mkdirParents(t, 'x/y/z');
    await assert.rejects(mkdirParents(t, 'file/sub'), (e: unknown) => isTargetError(e) && e.code === 'E_EXISTS');
    assert.equal(existsSync(join(root, 'file/sub')), false);
  });
});
