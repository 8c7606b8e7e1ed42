/**
 * The layer rules of eslint.config.js fail the lint on a forbidden import: each case lints a
 * one-line module as if it were a file at `at` (ESLint's Node API, the repository's own
 * configuration), and expects no-restricted-imports to report it, or not.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function restricted(at: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport const used = x;\n`, { filePath: `${root}${at}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import boundaries (eslint no-restricted-imports)', () => {
  const cases: { at: string; source: string; refused: boolean }[] = [
    { at: 'src/core/fixture.ts', source: "import { x } from '../engine/target-sync.ts';", refused: true },
    { at: 'src/core/fixture.ts', source: "import { x } from '../log/redact.ts';", refused: true },
    { at: 'src/core/fixture.ts', source: "import { readFileSync as x } from 'node:fs';", refused: true },
    { at: 'src/core/fixture.ts', source: "import { readFile as x } from 'fs/promises';", refused: true },
    { at: 'src/core/fixture.ts', source: "import x from 'better-sqlite3';", refused: true },
    { at: 'src/core/fixture.ts', source: "import { S3Client as x } from '@aws-sdk/client-s3';", refused: true },
    { at: 'src/core/fixture.ts', source: "import type { Op as x } from '../engine/executor.ts';", refused: true },
    { at: 'src/core/fixture.ts', source: "export { plan as x } from '../engine/apply-op.ts';", refused: true },
    { at: 'src/core/fixture.ts', source: "import { parentOf as x } from './paths.ts';", refused: false },
    { at: 'src/core/fixture.ts', source: "import x from 'ignore';", refused: false },
    { at: 'src/core/fixture.test.ts', source: "import { readFileSync as x } from 'node:fs';", refused: false },
    { at: 'src/state/fixture.ts', source: "import { TargetError as x } from '../targets/errors.ts';", refused: true },
    { at: 'src/targets/fixture.ts', source: "import { TargetSync as x } from '../engine/target-sync.ts';", refused: true },
    { at: 'src/targets/ftp/fixture.ts', source: "import { PACKAGE_ROOT as x } from '../../cli/package-root.ts';", refused: true },
    { at: 'src/targets/ftp/fixture.ts', source: "import { redactSecrets as x } from '../../log/redact.ts';", refused: false },
    { at: 'src/engine/fixture.ts', source: "import { runDaemon as x } from '../service/daemon.ts';", refused: true },
    { at: 'src/engine/fixture.ts', source: "import type { Store as x } from '../state/store.ts';", refused: false },
    { at: 'src/service/fixture.ts', source: "import { main as x } from '../cli/main.ts';", refused: true },
    { at: 'src/cli/fixture.ts', source: "import { runDaemon as x } from '../service/daemon.ts';", refused: false },
  ];
  for (const c of cases) {
    it(`${c.at}: ${c.source} ${c.refused ? 'fails' : 'passes'}`, async () => {
      const messages = await restricted(c.at, c.source);
      assert.equal(messages.length > 0, c.refused, messages.join('; ') || 'no restricted-import message');
      if (c.refused) assert.match(messages[0]!, /src\/\w+\/ (may import only|is pure)/, 'the message names the rule and the fix');
    });
  }
});
