/**
 * A private one-node OpenStack Swift with its s3api middleware, for the S3 target tests: the
 * Debian packages (swift-proxy, swift-object, swift-container, swift-account, memcached), run
 * from a temp folder on 127.0.0.1 and free high ports. Nothing under /etc/swift is used or
 * touched, and Debian's own services are never started (.ci/install-s3-server.sh).
 *
 * Layout: one device directory (`srv/d1`, `mount_check = false`, no loop device), rings with
 * one replica built here with swift-ring-builder, one process per server (`workers = 0`),
 * `s3api` + `tempauth` in the proxy pipeline. The S3 credentials are tempauth's user
 * `test:tester` with the key `testing`: access key id "test:tester", secret "testing".
 * A second account (SWIFT_THROTTLED_CREDENTIALS) is rate limited by the `ratelimit` filter.
 *
 * Swift reads its hash prefix and storage policies from /etc/swift/swift.conf, whatever the
 * servers' `swift_dir`; each server is therefore started through a two-line launcher that
 * points swift at our own swift.conf first (`utils.set_swift_dir`). The servers run with
 * /usr/bin/python3 (Debian's python3-swift), not whatever python3 comes first on PATH.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { serverMissing } from '../helpers/server-required.ts';
import { freePort } from './net.ts';

const PYTHON = '/usr/bin/python3';
const RING_BUILDER = '/usr/bin/swift-ring-builder';
const MEMCACHED = '/usr/bin/memcached';
const SWIFT_MODULE = '/usr/lib/python3/dist-packages/swift/__init__.py';

/** tempauth's user as S3 credentials (a loopback test server's fixture). */
export const SWIFT_S3_CREDENTIALS = { accessKeyId: 'test:tester', secretAccessKey: 'testing' } as const;
/**
 * A second account whose writes are rate limited (2 a second, no waiting: swift's ratelimit
 * filter with the account's global-write-ratelimit, set by the fixture on the account server
 * directly, since clients may not set sysmeta): a burst gets 503 SlowDown, as S3 answers
 * under load.
 */
export const SWIFT_THROTTLED_CREDENTIALS = { accessKeyId: 'slow:tester', secretAccessKey: 'testing-slow' } as const;

export interface SwiftServer {
  /** The S3 endpoint: http://127.0.0.1:PORT (path-style buckets). */
  readonly endpoint: string;
  readonly port: number;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Temp folder holding configs, rings and the device (removed by cleanup). */
  readonly dir: string;
  /** The servers' output so far (for failure messages). */
  log(): string;
  cleanup(): Promise<void>;
}

const LAUNCHER = [
  'import sys',
  'from swift.common import utils',
  'utils.set_swift_dir(sys.argv[1])',
  'from swift.common.wsgi import run_wsgi',
  "sys.exit(run_wsgi(sys.argv[2], sys.argv[3], verbose=True))",
].join('\n');

function storageConf(kind: 'account' | 'container' | 'object', port: number, dir: string, user: string): string {
  return [
    '[DEFAULT]',
    'bind_ip = 127.0.0.1',
    `bind_port = ${port}`,
    'workers = 0',
    `user = ${user}`,
    `swift_dir = ${dir}`,
    `devices = ${join(dir, 'srv')}`,
    'mount_check = false',
    // No syslog socket there: swift falls back to UDP on loopback, which nobody reads.
    `log_address = ${join(dir, 'no-syslog')}`,
    '[pipeline:main]',
    `pipeline = ${kind}-server`,
    `[app:${kind}-server]`,
    `use = egg:swift#${kind}`,
    '',
  ].join('\n');
}

function proxyConf(port: number, memcachePort: number, dir: string, user: string): string {
  // ratelimit after s3api and tempauth: it reads the account from the Swift path they make.
  const filters = ['catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging', 'cache', 'listing_formats', 's3api', 'tempauth', 'ratelimit', 'copy', 'slo', 'dlo', 'versioned_writes'];
  const egg: Record<string, string> = { 'proxy-logging': 'proxy_logging', cache: 'memcache' };
  const extra: Record<string, string[]> = {
    cache: [`memcache_servers = 127.0.0.1:${memcachePort}`],
    s3api: ['location = us-east-1'],
    tempauth: [`user_test_tester = ${SWIFT_S3_CREDENTIALS.secretAccessKey} .admin`, `user_slow_tester = ${SWIFT_THROTTLED_CREDENTIALS.secretAccessKey} .admin`],
    ratelimit: ['max_sleep_time_seconds = 0.05'],
  };
  return [
    '[DEFAULT]',
    'bind_ip = 127.0.0.1',
    `bind_port = ${port}`,
    'workers = 0',
    `user = ${user}`,
    `swift_dir = ${dir}`,
    `log_address = ${join(dir, 'no-syslog')}`,
    '[pipeline:main]',
    `pipeline = ${filters.join(' ')} proxy-logging proxy-server`,
    '[app:proxy-server]',
    'use = egg:swift#proxy',
    'account_autocreate = true',
    ...filters.flatMap((f) => [`[filter:${f}]`, `use = egg:swift#${egg[f] ?? f}`, ...(extra[f] ?? [])]),
    '',
  ].join('\n');
}

async function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthcheck', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/**
 * Creates SWIFT_THROTTLED_CREDENTIALS' account on the account server itself, with a write
 * rate limit in its sysmeta, before the proxy has seen (and cached) the account.
 */
async function createThrottledAccount(dir: string, accountPort: number): Promise<void> {
  const account = `AUTH_${SWIFT_THROTTLED_CREDENTIALS.accessKeyId.split(':')[0]}`;
  const script = 'import sys\nfrom swift.common import utils\nutils.set_swift_dir(sys.argv[1])\nfrom swift.common.ring import Ring\nprint(Ring(sys.argv[1], ring_name="account").get_part(sys.argv[2]))';
  const part = execFileSync(PYTHON, ['-c', script, dir, account], { encoding: 'utf8' }).trim();
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: accountPort,
        method: 'PUT',
        path: `/d1/${part}/${account}`,
        headers: { 'X-Timestamp': (Date.now() / 1000).toFixed(5), 'X-Account-Sysmeta-Global-Write-Ratelimit': '2', 'Content-Length': '0' },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
  if (status !== 201 && status !== 202) throw new Error(`creating the throttled account ${account} on the account server answered ${status}`);
}

/** Start a private Swift, or return undefined after `serverMissing` when it is not installed. */
export async function startSwift(): Promise<SwiftServer | undefined> {
  for (const file of [PYTHON, RING_BUILDER, MEMCACHED, SWIFT_MODULE]) {
    if (!existsSync(file)) {
      serverMissing('OpenStack Swift (s3api)', `${file} not found; run .ci/install-s3-server.sh`);
      return undefined;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'si-swift-'));
  const user = userInfo().username;
  mkdirSync(join(dir, 'srv', 'd1'), { recursive: true });
  writeFileSync(
    join(dir, 'swift.conf'),
    ['[swift-hash]', 'swift_hash_path_suffix = sitest-suffix', 'swift_hash_path_prefix = sitest-prefix', '[storage-policy:0]', 'name = Policy-0', 'default = yes', ''].join('\n'),
  );
  const ports = { object: await freePort(), container: await freePort(), account: await freePort(), proxy: await freePort(), memcache: await freePort() };
  for (const kind of ['account', 'container', 'object'] as const) {
    const builder = join(dir, `${kind}.builder`);
    // Part power 4, one replica, no min_part_hours: one device takes every partition.
    execFileSync(PYTHON, [RING_BUILDER, builder, 'create', '4', '1', '0'], { stdio: 'pipe' });
    execFileSync(PYTHON, [RING_BUILDER, builder, 'add', `r1z1-127.0.0.1:${ports[kind]}/d1`, '1'], { stdio: 'pipe' });
    execFileSync(PYTHON, [RING_BUILDER, builder, 'rebalance'], { stdio: 'pipe' });
    writeFileSync(join(dir, `${kind}-server.conf`), storageConf(kind, ports[kind], dir, user));
  }
  writeFileSync(join(dir, 'proxy-server.conf'), proxyConf(ports.proxy, ports.memcache, dir, user));

  let output = '';
  const children: ChildProcess[] = [];
  const launch = (name: string, command: string, args: string[]): ChildProcess => {
    const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    for (const s of [child.stdout, child.stderr]) {
      s?.setEncoding('utf8');
      s?.on('data', (d: string) => {
        // Keep the tail only: the proxy logs every request.
        output = (output + d.replace(/^(?=.)/gm, `${name}: `)).slice(-256 * 1024);
      });
    }
    children.push(child);
    return child;
  };
  const stopAll = (sig: NodeJS.Signals): void => {
    for (const c of children) {
      if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue;
      try {
        process.kill(-c.pid, sig); // the whole group: swift may fork helpers
      } catch {
        // already gone
      }
    }
  };
  // If the test process dies without cleanup, take the servers along.
  const onExit = (): void => stopAll('SIGKILL');
  process.once('exit', onExit);

  const cleanup = async (): Promise<void> => {
    process.removeListener('exit', onExit);
    const exited = children.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()))));
    stopAll('SIGTERM');
    await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 5_000))]);
    stopAll('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    launch('memcached', MEMCACHED, ['-l', '127.0.0.1', '-p', String(ports.memcache), '-U', '0', ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])]);
    for (const kind of ['account', 'container', 'object', 'proxy'] as const) {
      launch(kind, PYTHON, ['-c', LAUNCHER, dir, join(dir, `${kind}-server.conf`), `${kind}-server`]);
    }
    // Python and swift's imports take a few seconds per server on a busy 2-core machine.
    const deadline = Date.now() + 90_000;
    while (!(await healthy(ports.proxy))) {
      const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
      if (dead !== undefined) throw new Error(`a swift server exited (${dead.exitCode ?? dead.signalCode}) while starting:\n${output}`);
      if (Date.now() > deadline) throw new Error(`swift-proxy did not answer on 127.0.0.1:${ports.proxy} within 90 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await createThrottledAccount(dir, ports.account);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return {
    endpoint: `http://127.0.0.1:${ports.proxy}`,
    port: ports.proxy,
    ...SWIFT_S3_CREDENTIALS,
    dir,
    log: () => output,
    cleanup,
  };
}
