/**
 * A real nginx with the dav module and dav_ext (Debian's libnginx-mod-http-dav-ext) for
 * tests: `nginx -p BASE -c CONF -e LOG` in the foreground, 127.0.0.1 on a free high port,
 * workers writing as www-data, Basic auth, optional HTTPS with a test CA. nginx is the
 * picky one: collections need a trailing slash, PROPFIND hides dot files, and there is no
 * PROPPATCH (so no mtime).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serverMissing } from '../helpers/server-required.ts';
import { isExecutable, makeTestCa } from './ftp-common.ts';
import { freePort } from './net.ts';
import { DAV_REALM, DavServerProcess, davTestServer, makeDavDirs, readLog, removeDir, webAccount, writeHtpasswd, type DavTestServer } from './dav-common.ts';
import { existsSync } from 'node:fs';

const NGINX = '/usr/sbin/nginx';
const DAV_EXT = '/usr/lib/nginx/modules/ngx_http_dav_ext_module.so';

export interface NginxDavOptions {
  readonly tls?: boolean;
  /** Refuse (403) every request without this header and value, as a token-guarded origin does. */
  readonly requireHeader?: { readonly name: string; readonly value: string };
}

export async function startNginxDav(options: NginxDavOptions = {}): Promise<DavTestServer | undefined> {
  if (!isExecutable(NGINX)) {
    serverMissing('nginx', `${NGINX} not found`);
    return undefined;
  }
  if (!existsSync(DAV_EXT)) {
    serverMissing('nginx dav_ext', `${DAV_EXT} not found (package libnginx-mod-http-dav-ext)`);
    return undefined;
  }
  const { base, root } = makeDavDirs('si-nginx-', webAccount());
  const port = await freePort();
  const htpasswd = join(base, 'htpasswd');
  writeHtpasswd(htpasswd);
  const temp = join(base, 'temp');
  mkdirSync(temp);
  const ca = options.tls ? makeTestCa(join(base, 'tls')) : undefined;
  const errorLog = join(base, 'error.log');
  const accessLog = join(base, 'access.log');
  const conf = join(base, 'nginx.conf');
  writeFileSync(
    conf,
    [
      `load_module ${DAV_EXT};`,
      'daemon off;',
      'master_process on;',
      'user www-data www-data;',
      'worker_processes 1;',
      `pid ${join(base, 'nginx.pid')};`,
      `error_log ${errorLog} warn;`,
      'events { worker_connections 512; }',
      'http {',
      `  access_log ${accessLog};`,
      // Temp files on the root's file system, so a finished PUT is a rename.
      `  client_body_temp_path ${join(temp, 'body')};`,
      `  proxy_temp_path ${join(temp, 'proxy')};`,
      `  fastcgi_temp_path ${join(temp, 'fastcgi')};`,
      `  uwsgi_temp_path ${join(temp, 'uwsgi')};`,
      `  scgi_temp_path ${join(temp, 'scgi')};`,
      '  keepalive_timeout 60s;',
      '  keepalive_requests 100000;',
      '  client_max_body_size 0;',
      '  server {',
      `    listen 127.0.0.1:${port}${ca ? ' ssl' : ''};`,
      ...(ca ? [`    ssl_certificate ${ca.certFile};`, `    ssl_certificate_key ${ca.keyFile};`] : []),
      `    root ${root};`,
      '    location / {',
      '      dav_methods PUT DELETE MKCOL COPY MOVE;',
      '      dav_ext_methods PROPFIND OPTIONS;',
      '      dav_access user:rw group:rw all:r;',
      `      auth_basic "${DAV_REALM}";`,
      `      auth_basic_user_file ${htpasswd};`,
      ...(options.requireHeader
        ? [`      if ($http_${options.requireHeader.name.toLowerCase().replace(/-/g, '_')} != "${options.requireHeader.value}") { return 403; }`]
        : []),
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const logs = () => readLog(join(base, 'nginx.out'), errorLog, accessLog);
  const proc = new DavServerProcess('nginx', NGINX, ['-p', base, '-c', conf, '-e', errorLog], join(base, 'nginx.out'), port, ca?.caFile, logs);
  try {
    await proc.start();
  } catch (err) {
    removeDir(base);
    throw err;
  }
  return davTestServer({ name: `nginx dav_ext${ca ? ' (https)' : ''}`, port, root, base, caFile: ca?.caFile, log: logs, proc });
}
