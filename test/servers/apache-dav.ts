/**
 * A real Apache 2.4 with mod_dav_fs for tests: `apache2 -X -f CONF` (one process, its own
 * config, no Debian service), 127.0.0.1 on a free high port, a temp root written as
 * www-data, Digest auth by default (Basic on request), optional HTTPS with a test CA.
 * Apache is the strict one: a PUT or MKCOL into a missing parent is 409, and PROPFIND lists
 * dot files.
 */
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serverMissing } from '../helpers/server-required.ts';
import { isExecutable, makeTestCa } from './ftp-common.ts';
import { freePort } from './net.ts';
import {
  DAV_REALM,
  DavServerProcess,
  davTestServer,
  makeDavDirs,
  readLog,
  removeDir,
  webAccount,
  writeHtdigest,
  writeHtpasswd,
  type DavTestServer,
} from './dav-common.ts';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

export interface ApacheDavOptions {
  readonly auth?: 'basic' | 'digest';
  readonly tls?: boolean;
  /** Seconds a Digest nonce lives (Apache's default: 300); after that the server says stale. */
  readonly nonceLifetimeSec?: number;
  /** Seconds an idle keep-alive connection stays open (default here: 60). */
  readonly keepAliveSec?: number;
}

export async function startApacheDav(options: ApacheDavOptions = {}): Promise<DavTestServer | undefined> {
  if (!isExecutable(APACHE)) {
    serverMissing('apache2', `${APACHE} not found`);
    return undefined;
  }
  const account = webAccount();
  const { base, root } = makeDavDirs('si-apache-', account);
  const port = await freePort();
  const run = join(base, 'run');
  mkdirSync(run);
  const lock = join(base, 'lock');
  mkdirSync(lock);
  // mod_dav's lock database is written by the worker user.
  chownSync(lock, account.uid, account.gid);
  const auth = options.auth ?? 'digest';
  const userFile = join(base, auth === 'digest' ? 'htdigest' : 'htpasswd');
  if (auth === 'digest') writeHtdigest(userFile);
  else writeHtpasswd(userFile);
  const ca = options.tls ? makeTestCa(join(base, 'tls')) : undefined;
  const mods = ['mpm_event', 'authn_core', 'authn_file', 'authz_core', 'authz_user', 'auth_basic', 'auth_digest', 'dav', 'dav_fs', ...(ca ? ['socache_shmcb', 'ssl'] : [])];
  const errorLog = join(base, 'error.log');
  const accessLog = join(base, 'access.log');
  const lines = [
    `ServerRoot ${base}`,
    `DefaultRuntimeDir ${run}`,
    `PidFile ${join(run, 'apache.pid')}`,
    `Mutex file:${run} default`,
    ...mods.map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
    'ServerName 127.0.0.1',
    `Listen 127.0.0.1:${port}`,
    'User www-data',
    'Group www-data',
    `ErrorLog ${errorLog}`,
    'LogLevel warn',
    `LogFormat "%h %u \\"%r\\" %>s" dav`,
    `CustomLog ${accessLog} dav`,
    // Idle keep-alive sockets stay open while a test looks at them (the default is 5 s).
    'KeepAlive On',
    `KeepAliveTimeout ${options.keepAliveSec ?? 60}`,
    'MaxKeepAliveRequests 0',
    'Timeout 60',
    `DAVLockDB ${join(lock, 'DAVLock')}`,
    `DocumentRoot ${root}`,
    ...(ca ? ['SSLEngine on', `SSLCertificateFile ${ca.certFile}`, `SSLCertificateKeyFile ${ca.keyFile}`, `SSLSessionCache shmcb:${join(run, 'ssl_scache')}(512000)`] : []),
    `<Directory ${root}>`,
    '  Dav On',
    '  Options None',
    '  AllowOverride None',
    `  AuthType ${auth === 'digest' ? 'Digest' : 'Basic'}`,
    `  AuthName "${DAV_REALM}"`,
    ...(auth === 'digest' ? ['  AuthDigestProvider file', `  AuthDigestDomain /`, ...(options.nonceLifetimeSec ? [`  AuthDigestNonceLifetime ${options.nonceLifetimeSec}`] : [])] : ['  AuthBasicProvider file']),
    `  AuthUserFile ${userFile}`,
    '  Require valid-user',
    '</Directory>',
    '',
  ];
  const conf = join(base, 'apache2.conf');
  writeFileSync(conf, lines.join('\n'));
  const logs = () => readLog(join(base, 'apache.out'), errorLog, accessLog);
  const proc = new DavServerProcess('apache2', APACHE, ['-X', '-f', conf], join(base, 'apache.out'), port, ca?.caFile, logs);
  try {
    await proc.start();
  } catch (err) {
    removeDir(base);
    throw err;
  }
  return davTestServer({ name: `apache2 mod_dav_fs (${auth}${ca ? ', https' : ''})`, port, root, base, caFile: ca?.caFile, log: logs, proc });
}
