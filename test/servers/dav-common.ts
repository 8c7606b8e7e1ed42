/**
 * What the WebDAV test servers (apache-dav.ts, nginx-dav.ts, rclone-dav.ts) share: a temp
 * folder per server (config, logs, and the served root owned by the account the server
 * writes as), credentials files, a server process in its own process group, and waiting
 * until it answers HTTP. Everything stays on 127.0.0.1 and under a temp folder removed after.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { killTree } from './processes.ts';

/** The test login; a fixture of loopback servers that live for one test file. */
export const DAV_TEST_USER = 'sidav';
export const DAV_TEST_PASSWORD = 'si-Dav-test-4e7a';
export const DAV_REALM = 'sync-inotify test';

export interface DavTestServer {
  readonly name: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The folder served as "/" (what the conformance suite reads). */
  readonly rootDir: string;
  /** PEM of the CA that signed the server certificate, when started with TLS. */
  readonly caFile: string | undefined;
  /** `webdav://user@127.0.0.1:port` or `webdavs://…` (no path, no password). */
  readonly url: string;
  /** The server's logs (error and access), for assertions and failure messages. */
  log(): string;
  stop(): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface Account {
  readonly uid: number;
  readonly gid: number;
}

/** The account a server that drops privileges writes files as (Debian's web server user). */
export function webAccount(): Account {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'www-data'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** `base` (config, logs; readable by all) holding `root` (the served folder, owned by `owner`). */
export function makeDavDirs(prefix: string, owner?: Account): { base: string; root: string } {
  const base = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(base, 0o755);
  const root = join(base, 'root');
  mkdirSync(root);
  if (owner) chownSync(root, owner.uid, owner.gid);
  chmodSync(root, 0o755);
  return { base, root };
}

/** htpasswd (apr1, read by Apache and nginx) for the test user. */
export function writeHtpasswd(file: string, user = DAV_TEST_USER, password = DAV_TEST_PASSWORD): void {
  const hash = execFileSync('openssl', ['passwd', '-apr1', password], { encoding: 'utf8' }).trim();
  writeFileSync(file, `${user}:${hash}\n`, { mode: 0o644 });
}

/** htdigest format (Apache mod_auth_digest): user:realm:MD5(user:realm:password). */
export function writeHtdigest(file: string, user = DAV_TEST_USER, password = DAV_TEST_PASSWORD, realm = DAV_REALM): void {
  const ha1 = createHash('md5').update(`${user}:${realm}:${password}`).digest('hex');
  writeFileSync(file, `${user}:${realm}:${ha1}\n`, { mode: 0o644 });
}

export function readLog(...files: string[]): string {
  return files
    .map((f) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return '';
      }
    })
    .join('\n');
}

/** One HTTP exchange on a fresh socket: the status line, or an error text. */
function probe(port: number, caFile: string | undefined): Promise<string> {
  return new Promise((resolve) => {
    const sock = caFile ? tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(caFile, 'utf8') }) : netConnect({ host: '127.0.0.1', port });
    let data = '';
    const done = (v: string) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(2000, () => done(`timeout (${data})`));
    sock.once(caFile ? 'secureConnect' : 'connect', () => sock.write('OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
    sock.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) done(data.slice(0, data.indexOf('\r\n')));
    });
    sock.on('error', (e) => done(e.message));
  });
}

/** A server process in its own process group, its output appended to `logFile`. */
export class DavServerProcess {
  private child: ChildProcess | undefined;
  private exitInfo: string | undefined;

  constructor(
    private readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    private readonly logFile: string,
    private readonly port: number,
    private readonly caFile: string | undefined,
    private readonly logs: () => string,
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
    const deadline = Date.now() + 15_000;
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (this.exitInfo !== undefined) break;
      last = await probe(this.port, this.caFile);
      if (/^HTTP\/1\.[01] \d{3}/.test(last)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.stop();
    throw new Error(`${this.name} did not start on 127.0.0.1:${this.port} (${this.exitInfo ?? last})\n--- logs ---\n${this.logs().slice(-4000)}`);
  }

  /** SIGKILL the server and every process it forked (workers run as another user). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await killTree(child);
  }
}

/** The fixture every DAV server file returns: its process, folders and logs, as the tests see them. */
export function davTestServer(o: { name: string; port: number; root: string; base: string; caFile: string | undefined; log: () => string; proc: DavServerProcess }): DavTestServer {
  const scheme = o.caFile !== undefined ? 'webdavs' : 'webdav';
  return {
    name: o.name,
    port: o.port,
    user: DAV_TEST_USER,
    password: DAV_TEST_PASSWORD,
    rootDir: o.root,
    caFile: o.caFile,
    url: `${scheme}://${DAV_TEST_USER}@127.0.0.1:${o.port}`,
    log: o.log,
    stop: () => o.proc.stop(),
    start: () => o.proc.start(),
    cleanup: async () => {
      await o.proc.stop();
      removeDir(o.base);
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
