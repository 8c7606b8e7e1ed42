/**
 * Quick figure for the SFTP target: N puts of SIZE-byte files (default 2,000 × 4 KiB) into
 * 20 directories through one target with `connections` (default 4), against the private
 * sshd of test/servers/sshd.ts. Prints wall time and files/s.
 *
 *   node --import tsx bench/sftp-small-puts.ts [files=2000] [size=4096] [connections=4]
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTarget } from '../src/targets/registry.ts';
import { bufferSource } from '../test/conformance/suite.ts';
import { startSshd } from '../test/servers/sshd.ts';

const files = Number(process.argv[2] ?? 2000);
const size = Number(process.argv[3] ?? 4096);
const connections = Number(process.argv[4] ?? 4);

const sshd = await startSshd();
if (sshd === undefined) process.exit(2);
const root = mkdtempSync(join(tmpdir(), 'si-bench-sftp-'));
const target = createTarget({ url: `sftp://${sshd.user}@127.0.0.1:${sshd.port}${root}`, identityFile: sshd.clientKey, knownHosts: sshd.knownHosts, connections });
try {
  await target.connect();
  const dirs = 20;
  for (let d = 0; d < dirs; d++) await target.mkdir(`d${d}`);
  const data = Buffer.alloc(size, 0x61);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: files }, (_, i) => target.put(`d${i % dirs}/f${i}`, bufferSource(data), { tempPath: `d${i % dirs}/.f${i}.tmp` })),
  );
  const ms = performance.now() - started;
  let count = 0;
  for (let d = 0; d < dirs; d++) count += readdirSync(join(root, `d${d}`)).length;
  if (count !== files) throw new Error(`expected ${files} files, found ${count}`);
  console.log(`${files} puts of ${size} B, connections ${connections}: ${ms.toFixed(0)} ms (${((files / ms) * 1000).toFixed(0)} files/s)`);
} finally {
  await target.close();
  await sshd.cleanup();
  rmSync(root, { recursive: true, force: true });
}
