/**
 * The shared conformance suite against a private OpenSSH sshd on 127.0.0.1 (test/servers/sshd.ts).
 * The target root is an absolute temp folder on this machine, so the suite checks bytes on disk.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTarget } from '../../src/targets/registry.ts';
import { startSshd } from '../servers/sshd.ts';
import { describeConformance, diskReadBack } from './suite.ts';

describeConformance('sftp (OpenSSH sshd)', async () => {
  const sshd = await startSshd();
  if (sshd === undefined) return undefined;
  const rootDir = mkdtempSync(join(tmpdir(), 'si-conf-sftp-'));
  chmodSync(rootDir, 0o755);
  const target = createTarget({
    url: `sftp://${sshd.user}@127.0.0.1:${sshd.port}${rootDir}`,
    identityFile: sshd.clientKey,
    knownHosts: sshd.knownHosts,
    connections: 4,
  });
  return {
    target,
    readBack: diskReadBack(rootDir),
    disk: { rootDir },
    server: { port: sshd.port, connections: 4 },
    cleanup: async () => {
      await sshd.cleanup();
      rmSync(rootDir, { recursive: true, force: true });
    },
  };
});
