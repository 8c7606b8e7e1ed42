/**
 * A real pure-ftpd for tests, run from the copy .ci/install-ftp-servers.sh unpacks under
 * /opt/sync-inotify-test/pure-ftpd (it conflicts with vsftpd in dpkg). A virtual user in a
 * PureDB file (mapped to the system user `siftp`), everyone chrooted (-A), a passive port
 * range, optional explicit TLS (-Y) with a generated CA. It offers MLSD, MLST and MFMT.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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

export const PURE_FTPD_PREFIX = process.env['SYNC_INOTIFY_PURE_FTPD_PREFIX'] ?? '/opt/sync-inotify-test/pure-ftpd';

export interface PureFtpdOptions {
  /** Explicit TLS: 1 = offered, 2 = required (pure-ftpd -Y). */
  readonly tls?: 1 | 2;
  /** pure-ftpd -C: sessions allowed per client IP. */
  readonly maxPerIp?: number;
  /**
   * Folder to create the server's config, logs and root in; the OS temp folder by default.
   * The benchmarks put it on the same tmpfs as their other targets, so that FTP figures measure
   * the tools, not the VM's disk (a rename there is a journal write).
   */
  readonly baseDir?: string;
  /** Size of the passive port range (100 by default); a test can occupy them to provoke 425. */
  readonly passivePorts?: number;
}

/** Start pure-ftpd, or return undefined after `serverMissing` when it is not installed. */
export async function startPureFtpd(options: PureFtpdOptions = {}): Promise<FtpTestServer | undefined> {
  const bin = join(PURE_FTPD_PREFIX, 'usr/sbin/pure-ftpd');
  const pw = join(PURE_FTPD_PREFIX, 'usr/bin/pure-pw');
  if (!isExecutable(bin) || !isExecutable(pw)) {
    serverMissing('pure-ftpd', `${bin} not found`);
    return undefined;
  }
  const user = ensureSystemUser();
  const { base, root } = makeServerDirs('si-pureftpd-', user, options.baseDir);
  try {
    const port = await freePort();
    const pasv = await freePortRange(options.passivePorts ?? 100);
    // Virtual user: the password file and its compiled PureDB live in the temp folder.
    const passwd = join(base, 'pureftpd.passwd');
    const pdb = join(base, 'pureftpd.pdb');
    execFileSync(pw, ['useradd', FTP_TEST_USER, '-u', String(user.uid), '-g', String(user.gid), '-d', root, '-f', passwd, '-F', pdb, '-m'], {
      input: `${FTP_TEST_PASSWORD}\n${FTP_TEST_PASSWORD}\n`,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // pure-pw hashes with argon2id at t=1023: about 4 s of CPU per login on a 2-core machine,
    // which would make every new connection crawl. A SHA-512 crypt hash (what older pure-pw
    // wrote, still accepted through crypt(3)) keeps logins instant; then rebuild the PureDB.
    const fastHash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: FTP_TEST_PASSWORD + '\n', encoding: 'utf8' }).trim();
    const line = readFileSync(passwd, 'utf8').split('\n')[0] ?? '';
    const fields = line.split(':');
    fields[1] = fastHash;
    writeFileSync(passwd, fields.join(':') + '\n', { mode: 0o600 });
    execFileSync(pw, ['mkdb', pdb, '-f', passwd], { stdio: ['ignore', 'pipe', 'pipe'] });
    const args = [
      '-S', `127.0.0.1,${port}`,
      '-l', `puredb:${pdb}`,
      '-A', // chroot everyone into their home
      '-E', // no anonymous logins
      '-H', // no reverse DNS
      '-4',
      '-u', '1', // allow the uid of the test user whatever it is
      '-p', `${pasv.min}:${pasv.max}`,
      '-P', '127.0.0.1',
      '-c', '50',
      '-C', String(options.maxPerIp ?? 50),
      '-I', '600',
      '-O', `clf:${join(base, 'transfer.log')}`,
    ];
    let caFile: string | undefined;
    if (options.tls) {
      const ca = makeTestCa(join(base, 'tls'));
      caFile = ca.caFile;
      args.push('-Y', String(options.tls), '-2', `${ca.certFile},${ca.keyFile}`);
    }
    const proc = new ServerProcess('pure-ftpd', bin, args, join(base, 'pure-ftpd.out'), port);
    await proc.start();
    return {
      name: 'pure-ftpd',
      host: '127.0.0.1',
      port,
      user: FTP_TEST_USER,
      password: FTP_TEST_PASSWORD,
      rootDir: root,
      caFile,
      passivePorts: pasv,
      url: `ftp://${FTP_TEST_USER}@127.0.0.1:${port}`,
      stop: () => proc.stop(),
      start: () => proc.start(),
      cleanup: async () => {
        await proc.stop();
        removeDir(base);
      },
    };
  } catch (err) {
    removeDir(base);
    throw err;
  }
}
