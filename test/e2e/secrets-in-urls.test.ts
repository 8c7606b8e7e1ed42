/**
 * A password written raw in a target URL (`@ : / % #` and spaces unescaped, so the URL may not
 * even parse) never shows in any output of the real CLI: the "not a valid URL" error, a
 * connection error, `check`, `status`; from the command line and from a config file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, tempDir } from './harness.ts';

const t = tempDir('secrets-urls');
after(() => t.cleanup());
const src = join(t.path, 'src');
mkdirSync(src);
writeFileSync(join(src, 'a.txt'), 'a');

/**
 * Passwords and the pieces of them that must never be printed. Port 1 on loopback: nobody
 * listens, so URLs that parse fail to connect (exit 3) and those that do not are refused (2).
 */
const CASES: { url: string; pieces: string[] }[] = [
  { url: 'ftp://user:p@ss:w/rd%#x@127.0.0.1:1/x', pieces: ['p@ss', 'ss:w', 'w/rd', 'rd%#x', 'rd%'] },
  { url: 'ftp://user:Qz9@Kp@127.0.0.1:1/x', pieces: ['Qz9', 'Kp@'] },
  { url: 'sftp://user:Wv7/Rd3@127.0.0.1:1/x', pieces: ['Wv7', 'Rd3'] },
  { url: 'ftp://user:Hg4#Tn5@127.0.0.1:1/x', pieces: ['Hg4', 'Tn5'] },
  { url: 'ftp://user:Bx2%zzJm6@127.0.0.1:1/x', pieces: ['Bx2', 'Jm6'] },
  { url: 'ftps://user:Lq8 Zr1@127.0.0.1:1/x', pieces: ['Lq8', 'Zr1'] },
  { url: 'sftp://user:Pf3:Yc9@127.0.0.1:1/x', pieces: ['Pf3', 'Yc9'] },
];

function assertNoPiece(what: string, output: string, pieces: readonly string[]): void {
  for (const p of pieces) assert.ok(!output.includes(p), `${what}: ${JSON.stringify(p)} was printed:\n${output}`);
}

describe('passwords written raw in a target URL', { timeout: 120_000 }, () => {
  for (const c of CASES) {
    it(`never printed: ${c.url.replace(/:[^:]*$/, ':…')}`, async () => {
      const outputs: string[] = [];
      const state = join(t.path, `${outputs.length}-${Math.random().toString(36).slice(2)}.db`);
      const quick = await runCli(['once', src, c.url, '--state', state, '--connections', '1']);
      assert.ok(quick.code === 2 || quick.code === 3, `once: exit ${quick.code}\n${quick.stdout}${quick.stderr}`);
      assert.match(quick.stderr + quick.stdout, /127\.0\.0\.1/, 'the message still names the server');
      outputs.push(quick.stdout + quick.stderr);
      const cfg = join(t.path, `site-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(cfg, `syncs:\n  - source: ${src}\n    targets:\n      - url: ${JSON.stringify(c.url)}\n        timeoutMs: 2000\n`);
      for (const args of [['once', '-c', cfg, '--state', state], ['check', '-c', cfg, '--state', state], ['status', '-c', cfg, '--state', state], ['once', '-c', cfg, '--target', c.url, '--state', state]]) {
        const r = await runCli(args);
        outputs.push(`${args[0]}: ${r.stdout}${r.stderr}`);
      }
      assertNoPiece(c.url, outputs.join('\n'), c.pieces);
    });
  }
});
