import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTarget } from '../../src/targets/local/local-target.ts';
import { describeConformance } from './suite.ts';

describeConformance('local folder', async () => {
  // A root below a folder of the fixture's own: connect creates it, and the suite may remove
  // its parent (an unmounted disk).
  const base = mkdtempSync(join(tmpdir(), 'si-conf-local-'));
  const rootDir = join(base, 'root');
  return { target: new LocalTarget(rootDir), rootDir, rootParentRemovable: true, cleanup: async () => rmSync(base, { recursive: true, force: true }) };
});
