/**
 * What the FTP test servers (vsftpd.ts, pure-ftpd.ts) share: a system user to own the files,
 * free loopback ports, a test CA, spawning a server in its own process group, and waiting
 * until it greets. Everything stays on 127.0.0.1 and under a temp folder removed afterwards.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { killTree } from './processes.ts';
import { freePort } from './net.ts';

export { freePort };

/** The system account both FTP servers map the test login to (vsftpd needs a real one). */
export const FTP_TEST_USER = 'siftp';
/** Its password: a test fixture only, on a loopback server that lives for one test file. */
export const FTP_TEST_PASSWORD = 'si-Ftp-test-9f2c';

/** A running (or stopped) test FTP server. */
export interface FtpTestServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The folder the server shows as "/" to the test user (the conformance rootDir). */
  readonly rootDir: string;
  /** PEM of the CA that signed the server certificate (when started with TLS). */
  readonly caFile: string | undefined;
  /** The passive (data) ports the server draws from, where the test knows them. */
  readonly passivePorts?: { readonly min: number; readonly max: number };
  /** ftp://user@127.0.0.1:port (no path, no password). */
  readonly url: string;
  /** Kill the server and every session process; files stay. */
  stop(): Promise<void>;
  /** Start it again on the same port with the same settings (after stop). */
  start(): Promise<void>;
  /** Stop and remove every temp file. */
  cleanup(): Promise<void>;
}

export interface SystemUser {
  readonly uid: number;
  readonly gid: number;
}

function idOf(name: string, flag: '-u' | '-g'): number | undefined {
  try {
    return Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    return undefined;
  }
}

/**
 * Create the test account when missing (home "/": vsftpd changes into the home before
 * local_root, so it must exist; /bin/sh so PAM's pam_shells accepts it) and (re)set its password. Two test files may race here: a failed useradd is fine when the user
 * exists afterwards.
 */
export function ensureSystemUser(name = FTP_TEST_USER, password = FTP_TEST_PASSWORD): SystemUser {
  if (idOf(name, '-u') === undefined) {
    try {
      execFileSync('useradd', ['--no-create-home', '--home-dir', '/', '--shell', '/bin/sh', name], { stdio: 'pipe' });
    } catch (err) {
      if (idOf(name, '-u') === undefined) throw new Error(`cannot create test user ${name}: ${String(err)}`);
    }
  }
  execFileSync('chpasswd', [], { input: `${name}:${password}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
  const uid = idOf(name, '-u');
  const gid = idOf(name, '-g');
  if (uid === undefined || gid === undefined) throw new Error(`test user ${name} has no uid/gid`);
  return { uid, gid };
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A block of `count` consecutive free loopback ports for passive data connections. Random
 * start so servers of concurrently running test files do not share a range.
 */
export async function freePortRange(count: number): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 20000 + Math.floor(Math.random() * 20000);
    let ok = true;
    for (let p = min; p < min + count && ok; p++) ok = await portIsFree(p);
    if (ok) return { min, max: min + count - 1 };
  }
  throw new Error(`no block of ${count} free loopback ports found`);
}

/** A temp folder for one server: `base` (root-only) holding `root` (owned by the test user). */
/** `parent`: where the server's folder goes (the OS temp folder unless a caller picks one). */
export function makeServerDirs(prefix: string, user: SystemUser, parent: string = tmpdir()): { base: string; root: string } {
  const base = mkdtempSync(join(parent, prefix));
  chmodSync(base, 0o755);
  const root = join(base, 'root');
  mkdirSync(root);
  chownSync(root, user.uid, user.gid);
  chmodSync(root, 0o755);
  return { base, root };
}

export interface TestCa {
  /** PEM of the CA certificate: what a client passes as `ca`. */
  readonly caFile: string;
  /** Server certificate (for 127.0.0.1 and localhost) signed by the CA. */
  readonly certFile: string;
  readonly keyFile: string;
  /** Certificate followed by key, one file (pure-ftpd's format). */
  readonly pemFile: string;
}

/** Generate a throwaway CA and a server certificate with the openssl CLI. */
export function makeTestCa(dir: string, cn = 'sync-inotify test CA'): TestCa {
  mkdirSync(dir, { recursive: true });
  const f = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3', '-subj', `/CN=${cn}`, '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr')]);
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '3', '-extfile', f('server.ext'), '-out', f('server.pem')]);
  writeFileSync(f('server-combined.pem'), readFileSync(f('server.pem'), 'utf8') + readFileSync(f('server.key'), 'utf8'), { mode: 0o600 });
  chmodSync(f('server.key'), 0o600);
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key'), pemFile: f('server-combined.pem') };
}

/** True when `file` exists and can be executed. */
export function isExecutable(file: string): boolean {
  try {
    execFileSync('test', ['-x', file]);
    return true;
  } catch {
    return false;
  }
}

/**
 * A server process in its own process group (so its per-session children die with it), its
 * output appended to `logFile`.
 */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private exitInfo: string | undefined;

  constructor(
    private readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    private readonly logFile: string,
    private readonly port: number,
    /** Set for implicit-TLS servers: the readiness probe then speaks TLS, trusting this CA. */
    private readonly tlsCa?: TestCa,
  ) {}

  async start(): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    this.exitInfo = undefined;
    const child = spawn(this.command, this.args, { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    child.once('exit', (code, signal) => {
      this.exitInfo = `exited with ${signal ?? code}`;
    });
    child.once('error', (err) => {
      this.exitInfo = `failed to spawn: ${err.message}`;
    });
    try {
      await waitForGreeting(this.port, 10_000, () => this.exitInfo, this.tlsCa);
    } catch (err) {
      await this.stop();
      const log = readLog(this.logFile);
      throw new Error(`${this.name} did not start on 127.0.0.1:${this.port}: ${(err as Error).message}\n--- ${this.logFile} ---\n${log}`);
    }
  }

  /**
   * SIGKILL the listener and every session process it forked, like a crashed or rebooted
   * server. vsftpd sessions call setsid(), so killing the process group is not enough: the
   * descendants are found through /proc before the listener dies.
   */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await killTree(child);
  }
}



export function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-4000);
  } catch {
    return '(no log)';
  }
}

/** Resolve once a client that connects to `port` receives a 220 greeting. */
export async function waitForGreeting(port: number, timeoutMs: number, exited: () => string | undefined, tlsCa?: TestCa): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const why = exited();
    if (why !== undefined) throw new Error(`the server ${why}`);
    const greeting = await new Promise<string>((resolve) => {
      const sock = tlsCa ? tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(tlsCa.caFile, 'utf8') }) : netConnect({ host: '127.0.0.1', port });
      let data = '';
      const done = (v: string) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(2000, () => done(`timeout (${data})`));
      sock.on('data', (d) => {
        data += d.toString('utf8');
        if (/\r?\n$/.test(data) && /^\d{3} /m.test(data)) done(data);
      });
      sock.on('error', (e) => done(e.message));
    });
    if (greeting.startsWith('220')) return;
    last = greeting.trim();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no 220 greeting within ${timeoutMs} ms (last: ${last})`);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
