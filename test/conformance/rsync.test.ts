/**
 * The shared conformance suite against the rsync target, both ways it reaches a server: a
 * private rsync daemon (test/servers/rsyncd.ts) and rsync over the private OpenSSH sshd
 * (test/servers/sshd.ts). Both roots are folders on this machine, checked on disk.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTarget } from '../../src/targets/registry.ts';
import { startRsyncd } from '../servers/rsyncd.ts';
import { startSshd } from '../servers/sshd.ts';
import { describeConformance, diskReadBack } from './suite.ts';

describeConformance('rsync (rsync daemon)', async () => {
  const rsyncd = await startRsyncd();
  if (rsyncd === undefined) return undefined;
  const rootDir = join(rsyncd.moduleDir, 'parent', 'root');
  mkdirSync(rootDir, { recursive: true });
  const target = createTarget({ url: rsyncd.url('parent/root'), password: rsyncd.password });
  return {
    target,
    readBack: diskReadBack(rootDir),
    disk: { rootDir, rootParentRemovable: true },
    cleanup: () => rsyncd.cleanup(),
  };
});

describeConformance('rsync+ssh (OpenSSH sshd)', async () => {
  const sshd = await startSshd();
  if (sshd === undefined) return undefined;
  const base = mkdtempSync(join(tmpdir(), 'si-conf-rsync-ssh-'));
  chmodSync(base, 0o755);
  const rootDir = join(base, 'root');
  mkdirSync(rootDir);
  const target = createTarget({ url: `rsync+ssh://${sshd.user}@127.0.0.1:${sshd.port}${rootDir}`, identityFile: sshd.clientKey, knownHosts: sshd.knownHosts });
  return {
    target,
    readBack: diskReadBack(rootDir),
    disk: { rootDir, rootParentRemovable: true },
    cleanup: async () => {
      await sshd.cleanup();
      rmSync(base, { recursive: true, force: true });
    },
  };
});
