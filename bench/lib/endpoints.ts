/**
 * Where the tools write: a local folder, the private OpenSSH sshd (SFTP and rsync over ssh),
 * vsftpd and pure-ftpd — all on 127.0.0.1, started from the test fixtures under test/servers.
 * Every run asks for a fresh, empty target folder; the servers store on this machine's disk,
 * so the result is verified by comparing folders directly.
 */
import { chownSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FtpTestServer } from '../../test/servers/ftp-common.ts';
import { startPureFtpd } from '../../test/servers/pure-ftpd.ts';
import { startSshd, type SshdServer } from '../../test/servers/sshd.ts';
import { startVsftpd } from '../../test/servers/vsftpd.ts';
import { startRsyncd } from '../../test/servers/rsyncd.ts';
import { writeFileSync } from 'node:fs';

export type EndpointId = 'local' | 'sftp' | 'vsftpd' | 'pure-ftpd' | 'rsync-ssh' | 'rsyncd';

/** An rsync daemon's module (test/servers/rsyncd.ts): `rsync://user@127.0.0.1:port/module/…`. */
export interface RsyncdAccess {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly module: string;
  /** A file holding the password (rsync --password-file; must not be readable by others). */
  readonly passwordFile: string;
}

export interface Dest {
  /** The folder on this machine's disk (what verification reads). */
  readonly disk: string;
  /** The same folder as the tool addresses it (absolute path; for FTP relative to the login root). */
  readonly remote: string;
}

export interface SshAccess {
  readonly port: number;
  readonly user: string;
  readonly key: string;
  readonly knownHosts: string;
  /** ssh options as argv, e.g. for `rsync -e` or lftp's connect-program. */
  readonly options: readonly string[];
}

export interface FtpAccess {
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export interface Endpoint {
  readonly id: EndpointId;
  readonly label: string;
  readonly ssh?: SshAccess;
  readonly ftp?: FtpAccess;
  readonly rsyncd?: RsyncdAccess;
  /** Our target is the rsync one (rsync+ssh:// over `ssh`, or rsync:// to `rsyncd`). */
  readonly rsync?: boolean;
  /** An empty target folder named `name` (removed first if a previous run left it). */
  fresh(name: string): Dest;
  close(): Promise<void>;
}

/** The folder a previous fresh() handed out is removed (used between runs to keep the disk small). */
export function removeDest(dest: Dest): void {
  rmSync(dest.disk, { recursive: true, force: true });
}

export function localEndpoint(workDir: string): Endpoint {
  const base = join(workDir, 'targets', 'local');
  mkdirSync(base, { recursive: true });
  return {
    id: 'local',
    label: 'local folder',
    fresh(name) {
      const disk = join(base, name);
      rmSync(disk, { recursive: true, force: true });
      mkdirSync(disk, { recursive: true });
      return { disk, remote: disk };
    },
    close: async () => rmSync(base, { recursive: true, force: true }),
  };
}

export async function sftpEndpoint(workDir: string): Promise<Endpoint> {
  const sshd = await startSshd();
  if (sshd === undefined) throw new Error('OpenSSH sshd is not installed: run bench/install.sh');
  const base = join(workDir, 'targets', 'sftp');
  mkdirSync(base, { recursive: true });
  return {
    id: 'sftp',
    label: 'SFTP (OpenSSH sshd)',
    ssh: sshAccess(sshd),
    fresh(name) {
      const disk = join(base, name);
      rmSync(disk, { recursive: true, force: true });
      mkdirSync(disk, { recursive: true });
      return { disk, remote: disk };
    },
    close: async () => {
      await sshd.cleanup();
      rmSync(base, { recursive: true, force: true });
    },
  };
}

function sshAccess(sshd: SshdServer): SshAccess {
  return {
    port: sshd.port,
    user: sshd.user,
    key: sshd.clientKey,
    knownHosts: sshd.knownHosts,
    options: ['-i', sshd.clientKey, '-p', String(sshd.port), '-o', `UserKnownHostsFile=${sshd.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'],
  };
}

export async function ftpEndpoint(which: 'vsftpd' | 'pure-ftpd', workDir: string): Promise<Endpoint> {
  // The fixtures allow a few sessions per client by default; the peers open 4+ at once.
  // Their roots go in the work folder (a tmpfs when there is room), like every other target.
  const servers = join(workDir, 'servers');
  mkdirSync(servers, { recursive: true });
  const server: FtpTestServer | undefined =
    which === 'vsftpd' ? await startVsftpd({ maxPerIp: 50, logProtocol: false, baseDir: servers }) : await startPureFtpd({ maxPerIp: 50, baseDir: servers });
  if (server === undefined) throw new Error(`${which} is not installed: run bench/install.sh`);
  const owner = statSync(server.rootDir);
  return {
    id: which,
    label: `FTP (${which})`,
    ftp: { port: server.port, user: server.user, password: server.password },
    fresh(name) {
      const disk = join(server.rootDir, name);
      rmSync(disk, { recursive: true, force: true });
      mkdirSync(disk);
      chownSync(disk, owner.uid, owner.gid);
      return { disk, remote: `/${name}` };
    },
    close: () => server.cleanup(),
  };
}

/** The rsync daemon fixture: a module whose folder is on this machine. */
export async function rsyncdEndpoint(workDir: string): Promise<Endpoint> {
  const server = await startRsyncd();
  if (server === undefined) throw new Error('rsync is not installed: run bench/install.sh');
  const passwordFile = join(workDir, 'rsyncd.password');
  writeFileSync(passwordFile, `${server.password}\n`, { mode: 0o600 });
  return {
    id: 'rsyncd',
    label: 'rsync daemon',
    rsync: true,
    rsyncd: { port: server.port, user: server.user, password: server.password, module: server.module, passwordFile },
    fresh(name) {
      const disk = join(server.moduleDir, name);
      rmSync(disk, { recursive: true, force: true });
      mkdirSync(disk);
      return { disk, remote: name };
    },
    close: () => server.cleanup(),
  };
}

export async function openEndpoint(id: EndpointId, workDir: string): Promise<Endpoint> {
  switch (id) {
    case 'local':
      return localEndpoint(workDir);
    case 'sftp':
      return sftpEndpoint(workDir);
    case 'rsync-ssh':
      return { ...(await sftpEndpoint(workDir)), id: 'rsync-ssh', label: 'rsync over SSH (OpenSSH sshd)', rsync: true };
    case 'rsyncd':
      return rsyncdEndpoint(workDir);
    default:
      return ftpEndpoint(id, workDir);
  }
}
