/**
 * The shared conformance suite against OpenStack Swift's s3api on 127.0.0.1
 * (test/servers/swift.ts). Swift stores objects under hashed names, so the suite reads what
 * the target wrote back through a second S3 client (test/helpers/s3-view.ts), and the cases
 * that tamper with a folder on disk do not apply. A part size of
 * 5 MiB makes the suite's 6 MiB file a multipart upload.
 */
import { createTarget } from '../../src/targets/registry.ts';
import { createBucket, rawClient, s3View } from '../helpers/s3-view.ts';
import { startSwift } from '../servers/swift.ts';
import { describeConformance } from './suite.ts';

describeConformance('s3 (OpenStack Swift s3api)', async () => {
  const swift = await startSwift();
  if (swift === undefined) return undefined;
  await createBucket(swift, 'conformance');
  const prefix = 'site/www';
  const target = createTarget({
    url: `s3://conformance/${prefix}`,
    endpoint: swift.endpoint,
    accessKeyId: swift.accessKeyId,
    secretAccessKey: swift.secretAccessKey,
    partSizeMiB: 5,
    connections: 4,
  });
  const client = rawClient(swift);
  return {
    target,
    readBack: s3View(client, 'conformance', prefix),
    cleanup: async () => {
      client.destroy();
      await swift.cleanup();
    },
  };
}, { linksInvisible: true, rootIsPrefix: true });
