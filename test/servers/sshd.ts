/**
 * A private OpenSSH sshd for the SFTP tests: its own config, host key, pid file and
 * authorized_keys under a temp folder, on 127.0.0.1 and a free high port. The system sshd and
 * port 22 are never touched.
 *
 * Logins it accepts:
 *   - the current user (root in CI: `PermitRootLogin yes`) with the generated client key
 *     (`clientKey`, no passphrase) or the passphrase-protected one (`passphraseKey`);
 *   - when running as root, the system user `sitest-ssh` with `PASSWORD_USER.password`
 *     (created with useradd + chpasswd if missing; sshd with `UsePAM no` checks /etc/shadow
 *     itself, which only a root sshd can read, so `passwordUser` is undefined otherwise).
 *
 * `stop()` kills the listener and every session process (sshd's per-connection children
 * call setsid(), so a process-group kill would miss them: we walk /proc for descendants
 * first). `freezeSessions()` SIGSTOPs the session processes to simulate a hung server.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { serverMissing } from '../helpers/server-required.ts';
import { freePort, waitForGreeting } from './net.ts';
import { descendantsOf } from './processes.ts';

export const SSHD = '/usr/sbin/sshd';
export const SSH_KEYGEN = '/usr/bin/ssh-keygen';
/** Test-only account for the password login; a fixture on a loopback server. */
export const PASSWORD_USER = { name: 'sitest-ssh', password: 'si-Ssh-test-4b7e' } as const;
/** Passphrase of `passphraseKey`. */
export const KEY_PASSPHRASE = 'correct horse battery staple';

export interface SshdServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Temp folder holding config, keys and logs (removed by cleanup). */
  readonly dir: string;
  /** The user the key logins are for (the current user). */
  readonly user: string;
  /** Private key without passphrase, authorized for every user. */
  readonly clientKey: string;
  /** Private key protected by KEY_PASSPHRASE, authorized too. */
  readonly passphraseKey: string;
  /** `ssh-ed25519 AAAA…` of the server. */
  readonly hostKeyLine: string;
  /** `SHA256:…` of the server's host key. */
  readonly hostKeyFingerprint: string;
  /** known_hosts with `[127.0.0.1]:PORT ssh-ed25519 …`. */
  readonly knownHosts: string;
  /** Present when a password login is possible (root only). */
  readonly passwordUser: { readonly name: string; readonly password: string } | undefined;
  /** Everything sshd wrote to stderr so far (for failure messages). */
  log(): string;
  /** Kill the listener and all sessions; files stay. */
  stop(): Promise<void>;
  /** Start again on the same port (after stop). */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT every session process (not the listener). */
  freezeSessions(): void;
  thawSessions(): void;
  cleanup(): Promise<void>;
}

function keygen(file: string, passphrase: string, comment: string): void {
  execFileSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', passphrase, '-C', comment, '-f', file], { stdio: 'pipe' });
}


function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

function ensurePasswordUser(): { name: string; password: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const exists = (): boolean => {
    try {
      execFileSync('id', ['-u', PASSWORD_USER.name], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  try {
    if (!exists()) {
      try {
        execFileSync('useradd', ['--no-create-home', '--home-dir', '/', '--shell', '/bin/sh', PASSWORD_USER.name], { stdio: 'pipe' });
      } catch (err) {
        if (!exists()) throw err; // another test file may have created it meanwhile
      }
    }
    execFileSync('chpasswd', [], { input: `${PASSWORD_USER.name}:${PASSWORD_USER.password}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
    return { ...PASSWORD_USER };
  } catch (err) {
    process.stderr.write(`sshd fixture: no password user (${String(err)}); password tests will skip\n`);
    return undefined;
  }
}

/** Start a private sshd, or return undefined after `serverMissing` when OpenSSH is absent. */
export async function startSshd(): Promise<SshdServer | undefined> {
  if (!existsSync(SSHD) || !existsSync(SSH_KEYGEN)) {
    serverMissing('OpenSSH sshd', `${SSHD} or ${SSH_KEYGEN} not found; run .ci/install-ssh-server.sh`);
    return undefined;
  }
  const isRoot = process.getuid?.() === 0;
  // sshd's privilege separation directory; normally created by systemd's unit.
  if (isRoot && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const dir = mkdtempSync(join(tmpdir(), 'si-sshd-'));
  chmodSync(dir, 0o755);
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  const passphraseKey = join(dir, 'client_pass_ed25519');
  keygen(hostKey, '', 'sitest-host');
  keygen(clientKey, '', 'sitest-client');
  keygen(passphraseKey, KEY_PASSPHRASE, 'sitest-client-pass');
  const authorized = join(dir, 'authorized_keys');
  writeFileSync(authorized, readFileSync(`${clientKey}.pub`, 'utf8') + readFileSync(`${passphraseKey}.pub`, 'utf8'), { mode: 0o644 });
  const hostKeyLine = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const blob = Buffer.from(hostKeyLine.split(' ')[1] ?? '', 'base64');
  const hostKeyFingerprint = 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  const passwordUser = ensurePasswordUser();

  let port = await freePort();
  const config = join(dir, 'sshd_config');
  const writeConfig = (): void =>
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'UsePAM no',
        `AuthorizedKeysFile ${authorized}`,
        'PubkeyAuthentication yes',
        `PasswordAuthentication ${passwordUser ? 'yes' : 'no'}`,
        'KbdInteractiveAuthentication no',
        'PermitRootLogin yes',
        'StrictModes no',
        'UseDNS no',
        'PrintMotd no',
        'Subsystem sftp internal-sftp',
        // Tests open many connections at once (conformance + benchmarks).
        'MaxStartups 200',
        'MaxSessions 64',
        'LogLevel INFO',
        '',
      ].join('\n'),
    );

  let child: ChildProcess | undefined;
  let stderr = '';

  const launch = async (): Promise<void> => {
    writeConfig();
    const proc = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => {
      stderr += d;
    });
    child = proc;
    await waitForGreeting(proc, port, 'SSH-', 'sshd', () => stderr);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.pid === undefined) return;
    const pid = proc.pid;
    const sessions = descendantsOf(pid);
    const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => proc.once('exit', () => r()));
    signal(sessions, 'SIGCONT'); // a frozen process cannot die of SIGTERM
    signal([pid], 'SIGTERM');
    signal(sessions, 'SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
    signal([pid], 'SIGKILL');
  };

  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      await stop();
      // Someone took the port between freePort() and sshd's bind: try another one.
      if (attempt < 3 && /Address already in use/i.test(stderr)) {
        port = await freePort();
        stderr = '';
        continue;
      }
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  // If the test process dies without cleanup, take the server (and its sessions) along.
  process.once('exit', () => {
    if (child?.pid !== undefined) signal([...descendantsOf(child.pid), child.pid], 'SIGKILL');
  });

  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKeyLine}\n`);

  return {
    host: '127.0.0.1',
    port,
    dir,
    user: userInfo().username,
    clientKey,
    passphraseKey,
    hostKeyLine,
    hostKeyFingerprint,
    knownHosts,
    passwordUser,
    log: () => stderr,
    stop,
    start: async () => {
      if (child !== undefined) return;
      await launch();
    },
    freezeSessions: () => {
      if (child?.pid !== undefined) signal(descendantsOf(child.pid), 'SIGSTOP');
    },
    thawSessions: () => {
      if (child?.pid !== undefined) signal(descendantsOf(child.pid), 'SIGCONT');
    },
    cleanup: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
