/**
 * Tools that keep watching a folder and mirror changes: ours (`sync-inotify run`, default
 * settings), lsyncd (default.rsync to a local folder, default.rsyncssh to the sshd) with
 * several delays, and the loop people script (`inotifywait -m | lftp put`).
 *
 * start() returns once the tool is live: its own "ready" line where it has one, then a probe
 * file written into the source must arrive on the target (so a case never starts measuring
 * while the tool is still doing its first full sync).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Background, sleep } from './proc.ts';
import type { Dest, Endpoint } from './endpoints.ts';
import { lftpOpen, oursCommand, OURS } from './tools.ts';

export interface DaemonTool {
  readonly name: string;
  readonly ours?: boolean;
  /** Longest time a change may take by design (lsyncd's delay), so cases wait long enough. */
  readonly delayMs: number;
  start(src: string, dest: Dest, scratch: string): Promise<Background>;
}

/** Write `probe` into the source and wait until the target has it (or throw after timeoutMs). */
export async function waitLive(proc: Background, src: string, dest: Dest, timeoutMs: number, name = '.bench-probe'): Promise<void> {
  writeFileSync(join(src, name), `probe ${Date.now()}\n`);
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(join(dest.disk, name))) {
    if (!proc.running) throw new Error(`exited before it mirrored a probe file:\n${proc.output.slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`the probe file did not arrive within ${timeoutMs / 1000} s:\n${proc.output.slice(-2000)}`);
    await sleep(10);
  }
}

function ours(ep: Endpoint): DaemonTool {
  return {
    name: `${OURS} run`,
    ours: true,
    delayMs: 1000,
    async start(src, dest, scratch) {
      const proc = new Background(oursCommand('run', scratch, src, ep, dest));
      await proc.waitFor(/watching /, 60_000);
      await waitLive(proc, src, dest, 120_000);
      return proc;
    },
  };
}

let controlDir: string | undefined;
function shortTempDir(): string {
  if (controlDir === undefined) {
    const dir = mkdtempSync('/tmp/sib-');
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    controlDir = dir;
  }
  return controlDir;
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Lua string literal. */
const lua = (s: string) => JSON.stringify(s);

/**
 * lsyncd: `delay` in seconds or undefined for its default (15 s). Over ssh, `controlMaster`
 * adds ssh connection sharing (what it needs to get anywhere near low latency).
 */
function lsyncd(ep: Endpoint, delay: number | undefined, controlMaster = false): DaemonTool {
  const ssh = ep.ssh;
  const daemon = ep.rsyncd;
  const label = ssh ? `lsyncd rsyncssh${controlMaster ? ' + ControlMaster' : ''}` : daemon ? 'lsyncd rsync to the daemon' : 'lsyncd rsync';
  return {
    name: `${label}, delay ${delay === undefined ? 'default (15 s)' : `${delay} s`}`,
    delayMs: (delay ?? 15) * 1000,
    async start(src, dest, scratch) {
      const sync: string[] = [ssh ? 'default.rsyncssh' : 'default.rsync', `source = ${lua(src)}`];
      if (delay !== undefined) sync.push(`delay = ${delay}`);
      if (ssh) {
        const options: string[] = [`UserKnownHostsFile = ${lua(ssh.knownHosts)}`, 'StrictHostKeyChecking = "yes"', 'BatchMode = "yes"', 'IdentitiesOnly = "yes"'];
        // A unix socket path must stay under 108 bytes: the socket lives in a short temp folder.
        if (controlMaster) options.push('ControlMaster = "auto"', `ControlPath = ${lua(join(shortTempDir(), 'cm-%C'))}`, 'ControlPersist = "120"');
        sync.push('host = "127.0.0.1"', `targetdir = ${lua(dest.remote)}`, `ssh = { port = ${ssh.port}, identityFile = ${lua(ssh.key)}, options = { ${options.join(', ')} } }`, 'rsync = { compress = false }');
      } else if (daemon) {
        sync.push(`target = ${lua(`rsync://${daemon.user}@127.0.0.1:${daemon.port}/${daemon.module}/${dest.remote}/`)}`, `rsync = { password_file = ${lua(daemon.passwordFile)}, compress = false }`);
      } else {
        sync.push(`target = ${lua(dest.remote)}`, 'rsync = { compress = false }');
      }
      const config = join(scratch, 'lsyncd.lua');
      // At its best on loopback (its manual): events at close-after-write, no compression.
      writeFileSync(config, [`settings { logfile = ${lua(join(scratch, 'lsyncd.log'))}, statusFile = ${lua(join(scratch, 'lsyncd.status'))}, inotifyMode = "CloseWrite" }`, `sync { ${sync.join(',\n  ')} }`, ''].join('\n'));
      const proc = new Background({ argv: ['lsyncd', '-nodaemon', config] });
      // Its startup rsync copies a probe early (names sorted, dot files first): wait for
      // "Startup of … finished." so "live" means the whole startup sync is done.
      const log = join(scratch, 'lsyncd.log');
      const deadline = Date.now() + 300_000;
      while (!/Startup of .* finished/.test(readOr(log))) {
        if (!proc.running) throw new Error(`lsyncd exited during startup:\n${readOr(log).slice(-2000)}${proc.output.slice(-1000)}`);
        if (Date.now() > deadline) throw new Error(`lsyncd did not finish its startup within 300 s:\n${readOr(log).slice(-2000)}`);
        await sleep(10);
      }
      await waitLive(proc, src, dest, 120_000);
      return proc;
    },
  };
}

/**
 * What users script: every closed or moved-in file is put with one lftp call. Serial, one
 * login per file; no deletes, no renames (the latency case only writes files).
 */
function inotifyLftp(ep: Endpoint): DaemonTool {
  return {
    name: 'inotifywait -m | lftp put loop',
    delayMs: 1000,
    async start(src, dest, scratch) {
      const script = join(scratch, 'loop.sh');
      writeFileSync(
        script,
        [
          '#!/bin/bash',
          `cd ${JSON.stringify(src)} || exit 1`,
          `inotifywait -m -r -e close_write,moved_to --format '%w%f' . | while IFS= read -r f; do`,
          '  f="${f#./}"',
          // lftpOpen's double quotes become single ones inside this double-quoted -c string.
          `  lftp -c "${lftpOpen(ep).replaceAll('"', "'")}; put -O '${dest.remote}/$(dirname "$f")' '$f'"`,
          'done',
          '',
        ].join('\n'),
      );
      const proc = new Background({ argv: ['bash', script] });
      await proc.waitFor(/Watches established/, 60_000);
      await waitLive(proc, src, dest, 60_000);
      return proc;
    },
  };
}

export function latencyToolsFor(ep: Endpoint): DaemonTool[] {
  // The rsync target against lsyncd at its best documented settings (delay 0, ControlMaster).
  if (ep.rsync) return ep.ssh ? [ours(ep), lsyncd(ep, 0, true), lsyncd(ep, undefined, true)] : [ours(ep), lsyncd(ep, 0), lsyncd(ep, undefined)];
  if (ep.ssh) return [ours(ep), lsyncd(ep, 0, true), lsyncd(ep, 0), lsyncd(ep, 1, true), lsyncd(ep, undefined, true), inotifyLftp(ep)];
  // lsyncd has no FTP mode: the loop people script is the peer.
  if (ep.ftp) return [ours(ep), inotifyLftp(ep)];
  return [ours(ep), lsyncd(ep, 0), lsyncd(ep, 1), lsyncd(ep, undefined)];
}

export function burstToolsFor(ep: Endpoint): DaemonTool[] {
  if (ep.rsync) return ep.ssh ? [ours(ep), lsyncd(ep, 0, true)] : [ours(ep), lsyncd(ep, 0)];
  if (ep.ssh) return [ours(ep), lsyncd(ep, 0, true), lsyncd(ep, 1, true)];
  return [ours(ep), lsyncd(ep, 0), lsyncd(ep, 1)];
}

export function oursDaemon(ep: Endpoint): DaemonTool {
  return ours(ep);
}

export function lsyncdDaemon(ep: Endpoint, delay: number | undefined): DaemonTool {
  return lsyncd(ep, delay);
}
