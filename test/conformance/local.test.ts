import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTarget } from '../../src/targets/local/local-target.ts';
import { describeConformance } from './suite.ts';

describeConformance('local folder', async () => {
  const rootDir = mkdtempSync(join(tmpdir(), 'si-conf-local-'));
  return { target: new LocalTarget(rootDir), rootDir, cleanup: async () => rmSync(rootDir, { recursive: true, force: true }) };
});
