import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TargetError } from '../../src/targets/errors.ts';
import { LocalTarget } from '../../src/targets/local/local-target.ts';
import { createTarget } from '../../src/targets/registry.ts';
import { bufferSource, describeConformance, diskReadBack } from './suite.ts';

describeConformance('local folder', async () => {
  // A root below a folder of the fixture's own: connect creates it, and the suite may remove
  // its parent (an unmounted disk).
  const base = mkdtempSync(join(tmpdir(), 'si-conf-local-'));
  const rootDir = join(base, 'root');
  return { target: createTarget({ url: rootDir }), readBack: diskReadBack(rootDir), disk: { rootDir, rootParentRemovable: true }, cleanup: async () => rmSync(base, { recursive: true, force: true }) };
});

describe('local folder: the root may be a link the operator set up', () => {
  it('is followed once, at connect; a link planted below it is still refused', async () => {
    const base = mkdtempSync(join(tmpdir(), 'si-local-rootlink-'));
    try {
      const real = join(base, 'real');
      const outside = join(base, 'outside');
      const t = new LocalTarget(join(base, 'root-link'));
      mkdirSync(real);
      mkdirSync(outside);
      symlinkSync(real, join(base, 'root-link'));
      await t.connect();
      await t.mkdir('a');
      await t.put('a/f', bufferSource('through the root link'), { tempPath: 'a/.f.tmp' });
      assert.equal(readFileSync(join(real, 'a/f'), 'utf8'), 'through the root link');
      symlinkSync(outside, join(real, 'b'));
      await assert.rejects(t.put('b/f', bufferSource('escaped?'), { tempPath: 'b/.f.tmp' }), (err: unknown) => err instanceof TargetError && err.code === 'E_LINK_IN_PATH' && /"b" is a symbolic link/.test(err.message));
      assert.deepEqual(readdirSync(outside), []);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
