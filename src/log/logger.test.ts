import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const LOGGER = fileURLToPath(new URL('./logger.ts', import.meta.url));

/** Runs a script that logs through terminalSink in a child whose stdout is a pipe. */
function run(script: string): { stdout: string; stderr: string } {
  const code = `import { createLogger, terminalSink } from ${JSON.stringify(LOGGER)};\nconst log = createLogger(terminalSink());\n${script}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout, stderr: r.stderr };
}

describe('terminal log output on a pipe', () => {
  it('batched lines are all written, in order, even when the process exits right away', () => {
    const { stdout } = run(`for (let i = 0; i < 5000; i++) log.info('line ' + i);\nprocess.exit(0);`);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 5000);
    lines.forEach((l, i) => assert.match(l, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} line ${i}$`)));
  });

  it('a warning goes to stderr; info lines before it are written first', () => {
    const { stdout, stderr } = run(`log.info('before');\nlog.warn('careful');\nprocess.stdout.write('MARK\\n');\nlog.info('after');`);
    assert.deepEqual(stdout.trim().split('\n').map((l) => l.replace(/^\S+ /, '')), ['before', 'MARK', 'after']);
    assert.match(stderr, /WARN careful/);
  });
});
