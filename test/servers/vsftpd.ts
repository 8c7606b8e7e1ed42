/**
 * A real vsftpd for tests: 127.0.0.1, a free high port, a temp root chrooted for the system
 * user `siftp`, a passive port range, optional explicit TLS with a certificate from a CA the
 * test generates. vsftpd has no MLSD and only vsftpd-specific ways to set mtimes (none
 * advertised in FEAT), which is the point of testing against it.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serverMissing } from '../helpers/server-required.ts';
import {
  FTP_TEST_PASSWORD,
  FTP_TEST_USER,
  ServerProcess,
  ensureSystemUser,
  freePort,
  freePortRange,
  isExecutable,
  makeServerDirs,
  makeTestCa,
  removeDir,
  type FtpTestServer,
} from './ftp-common.ts';

export interface VsftpdOptions {
  /**
   * TLS with a certificate signed by a generated CA: true = explicit (AUTH TLS, required for
   * logins), 'implicit' = TLS from the first byte (implicit_ssl).
   */
  readonly tls?: boolean | 'implicit';
  /** vsftpd `max_per_ip`: sessions allowed from 127.0.0.1. */
  readonly maxPerIp?: number;
  /**
   * Log every command and reply (`log_ftp_protocol`, into vsftpd-xfer.log): on by default, for
   * reading a failed test. Off is vsftpd's (and Debian's) default, and what the benchmarks
   * use: with it on, each command costs the server a log write, so a client that sends more
   * commands per file is measured partly by the server's logging.
   */
  readonly logProtocol?: boolean;
  /**
   * Folder to create the server's config, logs and root in; the OS temp folder by default.
   * The benchmarks put it on the same tmpfs as their other targets, so that FTP figures measure
   * the tools, not the VM's disk (a rename there is a journal write).
   */
  readonly baseDir?: string;
}

const VSFTPD = '/usr/sbin/vsftpd';

/** Start vsftpd, or return undefined after `serverMissing` when it is not installed. */
export async function startVsftpd(options: VsftpdOptions = {}): Promise<FtpTestServer | undefined> {
  if (!isExecutable(VSFTPD)) {
    serverMissing('vsftpd', `${VSFTPD} not found`);
    return undefined;
  }
  const user = ensureSystemUser();
  const { base, root } = makeServerDirs('si-vsftpd-', user, options.baseDir);
  const port = await freePort();
  const pasv = await freePortRange(100);
  // vsftpd refuses to start unless its secure_chroot_dir exists, is owned by root and is not
  // writable by anyone else.
  const empty = join(base, 'empty');
  mkdirSync(empty, { mode: 0o755 });
  const ca = options.tls ? makeTestCa(join(base, 'tls')) : undefined;
  const lines = [
    'listen=YES',
    'listen_ipv6=NO',
    'listen_address=127.0.0.1',
    `listen_port=${port}`,
    'background=NO',
    'anonymous_enable=NO',
    'local_enable=YES',
    'write_enable=YES',
    'local_umask=022',
    'chroot_local_user=YES',
    'allow_writeable_chroot=YES',
    `local_root=${root}`,
    'pasv_enable=YES',
    'port_enable=NO',
    'connect_from_port_20=NO',
    `pasv_min_port=${pasv.min}`,
    `pasv_max_port=${pasv.max}`,
    'pasv_address=127.0.0.1',
    // The sandbox kills sessions on syscalls newer libcs use; irrelevant for a test server.
    'seccomp_sandbox=NO',
    `secure_chroot_dir=${empty}`,
    'pam_service_name=vsftpd',
    'userlist_enable=NO',
    'tcp_wrappers=NO',
    'utf8_filesystem=YES',
    'use_localtime=NO',
    'xferlog_enable=YES',
    'dual_log_enable=YES',
    `vsftpd_log_file=${join(base, 'vsftpd-xfer.log')}`,
    `xferlog_file=${join(base, 'xferlog')}`,
    `log_ftp_protocol=${options.logProtocol === false ? 'NO' : 'YES'}`,
    'max_clients=50',
    `max_per_ip=${options.maxPerIp ?? 0}`,
    'idle_session_timeout=600',
    'data_connection_timeout=120',
  ];
  if (ca) {
    lines.push(
      'ssl_enable=YES',
      `rsa_cert_file=${ca.certFile}`,
      `rsa_private_key_file=${ca.keyFile}`,
      'force_local_logins_ssl=YES',
      'force_local_data_ssl=YES',
      'ssl_tlsv1=NO',
      'ssl_sslv2=NO',
      'ssl_sslv3=NO',
      // The default, kept on purpose: data connections must resume the control TLS session
      // (basic-ftp does), as on hardened production servers.
      'require_ssl_reuse=YES',
      'ssl_ciphers=HIGH',
    );
    if (options.tls === 'implicit') lines.push('implicit_ssl=YES');
  }
  const conf = join(base, 'vsftpd.conf');
  writeFileSync(conf, lines.join('\n') + '\n', { mode: 0o600 });
  if (!existsSync('/etc/pam.d/vsftpd')) {
    serverMissing('vsftpd', '/etc/pam.d/vsftpd is missing (vsftpd package not fully installed)');
    removeDir(base);
    return undefined;
  }
  const proc = new ServerProcess('vsftpd', VSFTPD, [conf], join(base, 'vsftpd.out'), port, options.tls === 'implicit' ? ca : undefined);
  try {
    await proc.start();
  } catch (err) {
    removeDir(base);
    throw err;
  }
  return {
    name: 'vsftpd',
    host: '127.0.0.1',
    port,
    user: FTP_TEST_USER,
    password: FTP_TEST_PASSWORD,
    rootDir: root,
    caFile: ca?.caFile,
    url: `ftp://${FTP_TEST_USER}@127.0.0.1:${port}`,
    stop: () => proc.stop(),
    start: () => proc.start(),
    cleanup: async () => {
      await proc.stop();
      removeDir(base);
    },
  };
}
