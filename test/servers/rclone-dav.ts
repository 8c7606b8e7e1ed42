/**
 * A real `rclone serve webdav` (Debian's rclone) for tests: a local folder served on
 * 127.0.0.1 at a free high port, Basic auth, optional HTTPS with a test CA. The directory
 * cache is off, so files the test writes or removes behind rclone's back are seen at once.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { serverMissing } from '../helpers/server-required.ts';
import { makeTestCa } from './ftp-common.ts';
import { freePort } from './net.ts';
import { DAV_TEST_PASSWORD, DAV_TEST_USER, DavServerProcess, davTestServer, makeDavDirs, readLog, removeDir, type DavTestServer } from './dav-common.ts';

export interface RcloneDavOptions {
  readonly tls?: boolean;
}

function rcloneBinary(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v rclone'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function startRcloneDav(options: RcloneDavOptions = {}): Promise<DavTestServer | undefined> {
  const rclone = rcloneBinary();
  if (rclone === undefined) {
    serverMissing('rclone', 'rclone not found on PATH');
    return undefined;
  }
  const { base, root } = makeDavDirs('si-rclone-');
  const port = await freePort();
  const ca = options.tls ? makeTestCa(join(base, 'tls')) : undefined;
  const logFile = join(base, 'rclone.log');
  const args = [
    'serve',
    'webdav',
    root,
    '--config',
    join(base, 'rclone.conf'),
    '--addr',
    `127.0.0.1:${port}`,
    '--user',
    DAV_TEST_USER,
    '--pass',
    DAV_TEST_PASSWORD,
    '--dir-cache-time',
    '0s',
    '--poll-interval',
    '0',
    '--log-file',
    logFile,
    '-v',
    ...(ca ? ['--cert', ca.certFile, '--key', ca.keyFile] : []),
  ];
  const logs = () => readLog(join(base, 'rclone.out'), logFile);
  const proc = new DavServerProcess('rclone serve webdav', rclone, args, join(base, 'rclone.out'), port, ca?.caFile, logs);
  try {
    await proc.start();
  } catch (err) {
    removeDir(base);
    throw err;
  }
  return davTestServer({ name: `rclone serve webdav${ca ? ' (https)' : ''}`, port, root, base, caFile: ca?.caFile, log: logs, proc });
}
