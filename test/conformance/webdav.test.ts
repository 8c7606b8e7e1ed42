/**
 * The shared conformance suite against three real WebDAV servers on loopback: Apache
 * mod_dav_fs (Digest auth, and Basic over HTTPS with a test CA), nginx dav + dav_ext and
 * `rclone serve webdav`. The target root is a collection below the server's "/", which
 * connect() creates. A server's quirks live in the backend's translate table, not here.
 */
import { join } from 'node:path';
import { createTarget } from '../../src/targets/registry.ts';
import { startApacheDav } from '../servers/apache-dav.ts';
import type { DavTestServer } from '../servers/dav-common.ts';
import { startNginxDav } from '../servers/nginx-dav.ts';
import { startRcloneDav } from '../servers/rclone-dav.ts';
import { describeConformance, diskReadBack, type ConformanceFixture } from './suite.ts';

function fixture(start: () => Promise<DavTestServer | undefined>): () => Promise<ConformanceFixture | undefined> {
  return async () => {
    const server = await start();
    if (!server) return undefined;
    const url = `${server.url}/mirror/root`;
    const target = createTarget({ url, password: server.password, connections: 4, timeoutMs: 10_000, ...(server.caFile ? { ca: server.caFile } : {}) });
    const rootDir = join(server.rootDir, 'mirror/root');
    return { target, readBack: diskReadBack(rootDir), disk: { rootDir }, server: { port: server.port, connections: 4 }, cleanup: () => server.cleanup() };
  };
}

describeConformance('webdav: Apache mod_dav_fs (Digest)', fixture(() => startApacheDav()), { linksInvisible: true });
describeConformance('webdavs: Apache mod_dav_fs (Basic, HTTPS, test CA)', fixture(() => startApacheDav({ auth: 'basic', tls: true })), { linksInvisible: true });
describeConformance('webdav: nginx dav_ext', fixture(() => startNginxDav()), { linksInvisible: true });
describeConformance('webdav: rclone serve webdav', fixture(() => startRcloneDav()), { linksInvisible: true });
