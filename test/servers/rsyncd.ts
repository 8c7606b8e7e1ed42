/**
 * A private rsync daemon for the rsync tests: `rsync --daemon --no-detach --config=FILE
 * --address=127.0.0.1 --port=N`, one module `site` over a temp folder (`read only = no`,
 * `use chroot = no`, so it runs without root), a secrets file with one user. The system's
 * rsync daemon and port 873 are never touched. `stop()` kills the daemon and its per-client
 * children (a daemon killed mid-transfer); `start()` brings it back on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { serverMissing } from '../helpers/server-required.ts';
import { freePort, waitForGreeting } from './net.ts';
import { killTree } from './processes.ts';

export const RSYNC = '/usr/bin/rsync';
/** Test-only daemon account (in the daemon's secrets file, not a system user). */
export const RSYNCD_USER = { name: 'sitest', password: 'si-Rsync-test-9c1d' } as const;

export interface RsyncdServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The module's folder on this machine (the module is `site`). */
  readonly moduleDir: string;
  readonly module: 'site';
  readonly user: string;
  readonly password: string;
  /** `rsync://sitest@127.0.0.1:PORT/site` + path (no password in it). */
  url(path?: string): string;
  log(): string;
  stop(): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startRsyncd(): Promise<RsyncdServer | undefined> {
  if (!existsSync(RSYNC)) {
    serverMissing('rsync daemon', `${RSYNC} not found; run .ci/install-rsync.sh`);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'si-rsyncd-'));
  const moduleDir = join(dir, 'site');
  mkdirSync(moduleDir);
  chmodSync(dir, 0o755);
  const secrets = join(dir, 'secrets');
  writeFileSync(secrets, `${RSYNCD_USER.name}:${RSYNCD_USER.password}\n`, { mode: 0o600 });
  const config = join(dir, 'rsyncd.conf');
  const me = userInfo();
  writeFileSync(
    config,
    [
      `pid file = ${join(dir, 'rsyncd.pid')}`,
      `log file = ${join(dir, 'rsyncd.log')}`,
      'use chroot = no',
      // Links are stored as sent (a mirror); with `use chroot = no` rsyncd would munge them by default.
      'munge symlinks = no',
      'max connections = 0',
      // Running as root in CI: stay root-owned like the test folders (no nobody/nogroup).
      `uid = ${me.uid}`,
      `gid = ${me.gid}`,
      '[site]',
      `  path = ${moduleDir}`,
      '  read only = no',
      `  auth users = ${RSYNCD_USER.name}`,
      `  secrets file = ${secrets}`,
      '  strict modes = yes',
      '',
    ].join('\n'),
  );
  let port = await freePort();
  let child: ChildProcess | undefined;
  let stderr = '';

  const launch = async (): Promise<void> => {
    const proc = spawn(RSYNC, ['--daemon', '--no-detach', `--config=${config}`, '--address=127.0.0.1', `--port=${port}`], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => (stderr += d));
    child = proc;
    await waitForGreeting(proc, port, '@RSYNCD:', 'rsync --daemon', () => stderr);
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc) await killTree(proc);
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      await stop();
      if (attempt < 3 && /Address already in use|bind/i.test(stderr)) {
        port = await freePort();
        stderr = '';
        continue;
      }
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
  process.once('exit', () => {
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  return {
    host: '127.0.0.1',
    port,
    moduleDir,
    module: 'site',
    user: RSYNCD_USER.name,
    password: RSYNCD_USER.password,
    url: (path = '') => `rsync://${RSYNCD_USER.name}@127.0.0.1:${port}/site${path === '' ? '' : `/${path.replace(/^\/+/, '')}`}`,
    log: () => stderr,
    stop,
    start: async () => {
      if (child === undefined) await launch();
    },
    cleanup: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
