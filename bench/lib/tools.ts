/**
 * How each tool mirrors a folder to an endpoint: one command per (tool, endpoint), the same
 * command for the first push and for the incremental run. Every tool gets its own scratch
 * folder (configs, our state database) outside the source and the target.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capture, type Cmd } from './proc.ts';
import type { Dest, Endpoint, EndpointId } from './endpoints.ts';

export const REPO = resolve(fileURLToPath(import.meta.url), '../../..');
export const OURS_BIN = join(REPO, 'bin/sync-inotify.js');
export const OURS = 'sync-inotify';

export interface Pusher {
  readonly name: string;
  readonly ours?: boolean;
  /** Only for the first push (e.g. `cp -a` cannot delete or rename). */
  readonly initialOnly?: boolean;
  command(src: string, dest: Dest, scratch: string): Cmd;
}

/** ssh options as one string, for `rsync -e` and lftp's connect-program. */
function sshCommand(ep: Endpoint): string {
  return ['ssh', '-a', '-x', ...(ep.ssh?.options ?? [])].join(' ');
}

/** An empty rclone config, so rclone neither reads nor writes the user's. */
function rcloneEnv(scratch: string): NodeJS.ProcessEnv {
  const config = join(scratch, 'rclone.conf');
  writeFileSync(config, '');
  return { RCLONE_CONFIG: config };
}

/** Our target block as YAML (a config file is how identityFile/knownHosts/password are given). */
export function oursTargetYaml(ep: Endpoint, dest: Dest): string {
  if (ep.rsyncd) {
    return [`      - url: rsync://${ep.rsyncd.user}@127.0.0.1:${ep.rsyncd.port}/${ep.rsyncd.module}/${dest.remote}`, `        passwordFile: ${ep.rsyncd.passwordFile}`].join('\n');
  }
  if (ep.ssh && ep.rsync) {
    return [`      - url: rsync+ssh://${ep.ssh.user}@127.0.0.1:${ep.ssh.port}${dest.remote}`, `        identityFile: ${ep.ssh.key}`, `        knownHosts: ${ep.ssh.knownHosts}`].join('\n');
  }
  if (ep.ssh) {
    return [`      - url: sftp://${ep.ssh.user}@127.0.0.1:${ep.ssh.port}${dest.remote}`, `        identityFile: ${ep.ssh.key}`, `        knownHosts: ${ep.ssh.knownHosts}`].join('\n');
  }
  if (ep.ftp) {
    return [`      - url: ftp://${ep.ftp.user}@127.0.0.1:${ep.ftp.port}${dest.remote}`, `        password: ${JSON.stringify(ep.ftp.password)}`].join('\n');
  }
  return `      - url: ${dest.remote}`;
}

/** Writes a config for our CLI; `extra` goes at the top level (e.g. debounceMs). */
export function writeOursConfig(scratch: string, src: string, ep: Endpoint, dest: Dest, extra: Record<string, number | string> = {}): string {
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, 'sync-inotify.yaml');
  const top = Object.entries(extra).map(([k, v]) => `${k}: ${v}`);
  writeFileSync(file, [`name: bench`, ...top, 'syncs:', `  - source: ${src}`, '    targets:', oursTargetYaml(ep, dest), ''].join('\n'));
  return file;
}

export function oursCommand(sub: 'once' | 'run' | 'check', scratch: string, src: string, ep: Endpoint, dest: Dest, extra: Record<string, number | string> = {}): Cmd {
  const config = writeOursConfig(scratch, src, ep, dest, extra);
  return { argv: [process.execPath, OURS_BIN, sub, '-c', config, '--state', join(scratch, 'state.db')] };
}

function ours(ep: Endpoint): Pusher {
  return { name: OURS, ours: true, command: (src, dest, scratch) => oursCommand('once', scratch, src, ep, dest) };
}

export function lftpOpen(ep: Endpoint): string {
  if (ep.ssh) return `set sftp:connect-program "${sshCommand(ep)}"; open -u ${ep.ssh.user}, -p ${ep.ssh.port} sftp://127.0.0.1`;
  if (ep.ftp) return `set ftp:ssl-allow no; set ftp:passive-mode yes; open -u ${ep.ftp.user},${ep.ftp.password} -p ${ep.ftp.port} ftp://127.0.0.1`;
  throw new Error('lftp: no remote endpoint');
}

/**
 * lftp's mirror. With `tempFiles`, each file is uploaded under a temp name and renamed over
 * the final one (`xfer:use-temp-file`), as ours always does so that no half-written file is
 * ever visible under its name; lftp's default writes the final name directly.
 */
function lftp(ep: Endpoint, parallel: number, options: { tempFiles?: boolean } = {}): Pusher {
  const temp = options.tempFiles ? 'set xfer:use-temp-file yes; ' : '';
  return {
    name: `lftp mirror -R --parallel=${parallel}${options.tempFiles ? ', temp files' : ''}`,
    command: (src, dest) => ({
      argv: ['lftp', '-c', `set cmd:fail-exit yes; set net:max-retries 2; set net:reconnect-interval-base 1; ${temp}${lftpOpen(ep)}; mirror -R --delete --parallel=${parallel} ${src} ${dest.remote}`],
    }),
  };
}

function rcloneRemote(ep: Endpoint, dest: Dest): { remote: string; args: string[] } {
  if (ep.ssh) {
    // --sftp-disable-hashcheck: by default rclone runs `md5sum FILE` through an ssh exec channel
    // after every upload; on this machine that is ~175 ms per file (200 files: 35 s instead of
    // 2 s), so the default would measure bash start-up, not transfers. Said in the results.
    return {
      remote: `:sftp,host=127.0.0.1,port=${ep.ssh.port},user=${ep.ssh.user},key_file=${ep.ssh.key}:${dest.remote}`,
      args: ['--sftp-known-hosts-file', ep.ssh.knownHosts, '--sftp-disable-hashcheck'],
    };
  }
  if (ep.ftp) {
    const pass = capture(['rclone', 'obscure', ep.ftp.password]);
    return { remote: `:ftp,host=127.0.0.1,port=${ep.ftp.port},user=${ep.ftp.user},pass=${pass}:${dest.remote}`, args: [] };
  }
  return { remote: dest.remote, args: [] };
}

function rclone(ep: Endpoint, transfers: number): Pusher {
  return {
    name: `rclone sync --transfers ${transfers}${ep.ssh ? ' --sftp-disable-hashcheck' : ''}`,
    command: (src, dest, scratch) => {
      const { remote, args } = rcloneRemote(ep, dest);
      return { argv: ['rclone', 'sync', '--transfers', String(transfers), ...args, src, remote], env: rcloneEnv(scratch) };
    },
  };
}

function rsync(ep: Endpoint): Pusher {
  if (ep.rsyncd) {
    const d = ep.rsyncd;
    return {
      name: 'rsync -a to the daemon',
      command: (src, dest) => ({ argv: ['rsync', '-a', '--delete', `--password-file=${d.passwordFile}`, `${src}/`, `rsync://${d.user}@127.0.0.1:${d.port}/${d.module}/${dest.remote}/`] }),
    };
  }
  if (ep.ssh) {
    return {
      name: 'rsync -a over ssh',
      command: (src, dest) => ({ argv: ['rsync', '-a', '--delete', '-e', sshCommand(ep), `${src}/`, `${ep.ssh!.user}@127.0.0.1:${dest.remote}/`] }),
    };
  }
  return { name: 'rsync -a', command: (src, dest) => ({ argv: ['rsync', '-a', '--delete', `${src}/`, `${dest.remote}/`] }) };
}

const cpA: Pusher = { name: 'cp -a (floor)', initialOnly: true, command: (src, dest) => ({ argv: ['cp', '-a', `${src}/.`, dest.remote] }) };

/** Every tool that can push to this endpoint, ours first. */
export function pushersFor(ep: Endpoint): Pusher[] {
  const byEndpoint: Record<EndpointId, () => Pusher[]> = {
    local: () => [ours(ep), rsync(ep), rclone(ep, 4), cpA],
    sftp: () => [ours(ep), lftp(ep, 4), rclone(ep, 4), rsync(ep)],
    vsftpd: () => [ours(ep), lftp(ep, 4), lftp(ep, 4, { tempFiles: true }), lftp(ep, 1), rclone(ep, 4)],
    'pure-ftpd': () => [ours(ep), lftp(ep, 4), lftp(ep, 4, { tempFiles: true }), lftp(ep, 1), rclone(ep, 4)],
    // The rsync target against plain rsync over the same transport.
    'rsync-ssh': () => [ours(ep), rsync(ep)],
    rsyncd: () => [ours(ep), rsync(ep)],
  };
  return byEndpoint[ep.id]();
}
