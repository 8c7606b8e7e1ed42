/**
 * How rsync reaches the server: an rsync daemon (`rsync://user@host:port/module/path`, the
 * password in the child's RSYNC_PASSWORD) or SSH (`rsync+ssh://user@host:port/path`). Over
 * SSH, every call shares one master connection (OpenSSH ControlMaster/ControlPersist) whose
 * socket lives in a private 0700 folder, with an ssh config file of our own: BatchMode (no
 * prompt ever), the known_hosts file written from the host-key rules (ssh-host.ts) and
 * nothing else, StrictHostKeyChecking yes. A remote shell command (a rename's `mv`) goes
 * over the same master.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptedHostKeys } from './ssh-host.ts';
import { SSH_BIN, type RunResult, type Runner } from './run.ts';

export interface Transport {
  readonly kind: 'daemon' | 'ssh';
  /** The remote root as rsync takes it, with a trailing slash (`…/path/`). */
  readonly root: string;
  /** The remote root's parent and the root's name (to create the root or see it is gone). */
  readonly parent: { readonly dir: string; readonly name: string } | undefined;
  /** Options every rsync call takes (the remote shell, connect timeout). */
  args(): string[];
  env(): NodeJS.ProcessEnv;
  /** Prepare (ssh: host keys, config); safe to call again after close. */
  open(): Promise<void>;
  /** ssh only: runs `sh -c script sh args…` on the server over the master connection. */
  shell?(script: string, args: readonly string[]): Promise<RunResult>;
  close(): Promise<void>;
}

export interface DaemonOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  /** Module and path under it, without leading/trailing slashes. */
  readonly path: string;
  readonly timeoutMs: number;
}

function splitRoot(prefix: string, path: string): { root: string; parent: Transport['parent'] } {
  const clean = path.replace(/\/+$/, '');
  const slash = clean.lastIndexOf('/');
  return {
    root: `${prefix}${clean}/`,
    parent: slash < 0 ? undefined : { dir: `${prefix}${clean.slice(0, slash + 1) || '/'}`, name: clean.slice(slash + 1) },
  };
}

export function daemonTransport(o: DaemonOptions): Transport {
  const hostPart = o.host.includes(':') ? `[${o.host}]` : o.host;
  const prefix = `rsync://${o.user ? `${o.user}@` : ''}${hostPart}:${o.port}/`;
  // The module itself is the root's parent only past its name: `module` alone always exists.
  const { root, parent } = splitRoot(prefix, o.path);
  const inModule = o.path.includes('/');
  return {
    kind: 'daemon',
    root,
    parent: inModule ? parent : undefined,
    args: () => [`--contimeout=${Math.max(1, Math.ceil(o.timeoutMs / 1000))}`],
    env: () => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env['RSYNC_PASSWORD'];
      if (o.password !== undefined) env['RSYNC_PASSWORD'] = o.password;
      return env;
    },
    open: async () => undefined,
    close: async () => undefined,
  };
}

export interface SshOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly path: string;
  readonly identityFile: string | undefined;
  readonly knownHosts: string | undefined;
  readonly hostKey: string | undefined;
  readonly timeoutMs: number;
  /** The account may run a shell command (renames as one `mv`). */
  readonly shell: boolean;
}

/** A value for an ssh_config line: quoted (ssh_config takes "…" around a path with spaces). */
function cfgValue(v: string): string {
  if (/["\n\r]/.test(v)) throw new Error(`a path with a double quote or a line break cannot be given to ssh: ${JSON.stringify(v)}`);
  return `"${v}"`;
}

/** A word for the remote shell: single-quoted, a `'` as `'\''`. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function sshTransport(o: SshOptions, runner: Runner): Transport {
  let dir: string | undefined;
  const alias = 'sync-inotify-target';
  const { root, parent } = splitRoot(`${alias}:`, o.path);
  const config = () => join(dir!, 'ssh_config');
  const sshArgs = () => ['-F', config()];
  return {
    kind: 'ssh',
    root,
    parent,
    // rsync splits -e on spaces: our folder's path has none (mkdtemp under tmpdir).
    args: () => ['-e', `${SSH_BIN} -F ${config()}`],
    env: () => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env['RSYNC_PASSWORD'];
      delete env['SSH_AUTH_SOCK']; // only the configured identity logs in
      return env;
    },
    async open() {
      if (dir !== undefined) return;
      const keys = await acceptedHostKeys(runner, { host: o.host, port: o.port, timeoutMs: o.timeoutMs, ...(o.hostKey !== undefined ? { pin: o.hostKey } : {}), ...(o.knownHosts !== undefined ? { knownHostsFile: o.knownHosts } : {}) });
      const made = mkdtempSync(join(tmpdir(), 'si-rsync-')); // mode 0700
      if (/\s/.test(made)) throw new Error(`the temp folder ${made} has a space in its path: set TMPDIR to a folder without one`);
      writeFileSync(join(made, 'known_hosts'), keys.knownHosts, { mode: 0o600 });
      const seconds = Math.max(1, Math.ceil(o.timeoutMs / 1000));
      const lines = [
        `Host ${alias}`,
        `  HostName ${o.host}`,
        `  Port ${o.port}`,
        ...(o.user ? [`  User ${cfgValue(o.user)}`] : []),
        ...(o.identityFile !== undefined ? [`  IdentityFile ${cfgValue(o.identityFile)}`, '  IdentitiesOnly yes'] : []),
        `  UserKnownHostsFile ${cfgValue(join(made, 'known_hosts'))}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '  UpdateHostKeys no',
        '  CheckHostIP no',
        `  HostKeyAlgorithms ${keys.algorithms.join(',')}`,
        '  BatchMode yes',
        '  PasswordAuthentication no',
        '  KbdInteractiveAuthentication no',
        `  ConnectTimeout ${seconds}`,
        `  ServerAliveInterval ${Math.max(1, Math.ceil(seconds / 3))}`,
        '  ServerAliveCountMax 3',
        '  ControlMaster auto',
        `  ControlPath ${cfgValue(join(made, 'cm'))}`,
        '  ControlPersist 600',
        '  LogLevel ERROR',
        '',
      ];
      writeFileSync(join(made, 'ssh_config'), lines.join('\n'), { mode: 0o600 });
      dir = made;
    },
    ...(o.shell
      ? {
          shell: (script: string, args: readonly string[]) =>
            runner.run(SSH_BIN, [...sshArgs(), alias, '--', ['sh', '-c', shellQuote(script), 'sh', ...args.map(shellQuote)].join(' ')], { killAfterMs: o.timeoutMs * 2 }),
        }
      : {}),
    async close() {
      if (dir === undefined) return;
      const was = dir;
      await runner.run(SSH_BIN, ['-F', join(was, 'ssh_config'), '-O', 'exit', alias], { killAfterMs: 5000 }).catch(() => undefined);
      dir = undefined;
      rmSync(was, { recursive: true, force: true });
    },
  };
}
