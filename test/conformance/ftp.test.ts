/**
 * The shared conformance suite against real FTP servers on loopback: vsftpd (plain and
 * explicit FTPS), pure-ftpd (plain and explicit FTPS). Each server is started for this file
 * and removed after; the target root is a subdirectory the target creates at connect.
 */
import { createTarget } from '../../src/targets/registry.ts';
import type { FtpTestServer } from '../servers/ftp-common.ts';
import { startPureFtpd } from '../servers/pure-ftpd.ts';
import { startVsftpd } from '../servers/vsftpd.ts';
import { describeConformance, diskReadBack, type ConformanceFixture } from './suite.ts';
import { join } from 'node:path';

function fixture(start: () => Promise<FtpTestServer | undefined>, tls: boolean): () => Promise<ConformanceFixture | undefined> {
  return async () => {
    const server = await start();
    if (!server) return undefined;
    const scheme = tls ? 'ftps' : 'ftp';
    // A root below the server's "/": also proves connect() creates a missing root.
    const target = createTarget({
      url: `${scheme}://${server.user}@${server.host}:${server.port}/mirror/root`,
      password: server.password,
      timeoutMs: 10_000,
      ...(tls && server.caFile ? { ca: server.caFile } : {}),
    });
    const rootDir = join(server.rootDir, 'mirror/root');
    return { target, readBack: diskReadBack(rootDir), disk: { rootDir, rootParentRemovable: true }, server: { port: server.port, connections: 4 }, cleanup: () => server.cleanup() };
  };
}

describeConformance('ftp: vsftpd', fixture(() => startVsftpd(), false));
describeConformance('ftps: vsftpd (explicit TLS, test CA)', fixture(() => startVsftpd({ tls: true }), true));
describeConformance('ftp: pure-ftpd', fixture(() => startPureFtpd(), false));
describeConformance('ftps: pure-ftpd (explicit TLS required, test CA)', fixture(() => startPureFtpd({ tls: 2 }), true));
