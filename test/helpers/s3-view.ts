/**
 * A second, independent look at an S3 server for the tests: its own SDK client (not the
 * target under test) to create buckets and read what the target wrote. Directories are
 * prefixes: a path "is a directory" when some key lies under `path/`.
 */
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import type { ReadBack } from '../conformance/suite.ts';

export interface S3Server {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export function rawClient(server: S3Server): S3Client {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const client = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  // Swift wants Content-MD5 on DeleteObjects; the tests' own deletes go through the target.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const req = args.request as { headers?: Record<string, string>; body?: unknown };
      if (context.commandName === 'DeleteObjectsCommand' && req.headers && typeof req.body === 'string') req.headers['content-md5'] = createHash('md5').update(req.body).digest('base64');
      return next(args);
    },
    { step: 'build' },
  );
  return client;
}

export async function createBucket(server: S3Server, bucket: string): Promise<void> {
  const client = rawClient(server);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

/** Keys of multipart uploads in progress under `prefix`. */
export async function uploadsInProgress(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const r = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return (r.Uploads ?? []).map((u) => u.Key ?? '');
}

export function s3View(client: S3Client, bucket: string, prefix: string): ReadBack {
  const key = (path: string) => [prefix, path].filter((p) => p !== '').join('/');
  const head = async (path: string) => {
    try {
      return await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key(path) }));
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  };
  const listing = async (dir: string, maxKeys?: number): Promise<ListObjectsV2CommandOutput[]> => {
    const pages: ListObjectsV2CommandOutput[] = [];
    let token: string | undefined;
    const p = key(dir) === '' ? '' : `${key(dir)}/`;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, Delimiter: '/', ContinuationToken: token, ...(maxKeys ? { MaxKeys: maxKeys } : {}) }));
      pages.push(page);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined && maxKeys === undefined);
    return pages;
  };
  const isDir = async (path: string) => {
    const [page] = await listing(path, 1);
    return (page?.Contents?.length ?? 0) + (page?.CommonPrefixes?.length ?? 0) > 0;
  };
  return {
    read: async (path) => {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key(path) }));
        return Buffer.from(await r.Body!.transformToByteArray());
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw err;
      }
    },
    names: async (dir) => {
      const p = key(dir) === '' ? '' : `${key(dir)}/`;
      const names: string[] = [];
      for (const page of await listing(dir)) {
        for (const o of page.Contents ?? []) if (o.Key !== p) names.push(o.Key!.slice(p.length));
        for (const c of page.CommonPrefixes ?? []) names.push(c.Prefix!.slice(p.length, -1));
      }
      return names.sort();
    },
    exists: async (path) => (await head(path)) !== undefined || (await isDir(path)),
    isDir,
    mtimeMs: async (path) => {
      const h = await head(path);
      // The server's own time is the upload's; the source mtime is in our metadata.
      return Number(h?.Metadata?.['sync-inotify-mtime'] ?? h?.LastModified?.getTime() ?? NaN);
    },
  };
}
