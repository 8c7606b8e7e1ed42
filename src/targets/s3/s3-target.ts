/**
 * S3 and S3-compatible object stores (AWS, OpenStack Swift's s3api, MinIO, …) through the AWS
 * SDK v3, verified against Swift.
 *
 * URL: s3://bucket[/prefix]; the server is `endpoint` (default: AWS for `region`). Objects,
 * not folders (keys.ts): a directory is the prefix of the keys under it, so `mkdir` writes
 * nothing unless `directoryMarkers` is set (then a zero-byte `dir/` object), and an empty
 * directory does not exist otherwise (caps.implicitDirs).
 *
 * Uploads: an object appears whole when its PUT completes, so no temp name is written
 * (`tempPath` is ignored; the engine journals it all the same, and a leftover journalled
 * temp name makes `remove` abort the multipart uploads of its final key). Files up to
 * `partSizeMiB` go in one PutObject; larger ones are hashed first (the fingerprint travels in
 * the object's metadata, sent before the content) and then uploaded in parts, in parallel
 * (lib-storage). Multipart uploads left under our prefix by an earlier process are aborted
 * at the first connect.
 *
 * Rename is a server-side copy then a delete (a directory: every object under it, in
 * parallel): it has `rename` because a copy moves no bytes over our link, where the
 * alternative is a re-upload; caps.dirRenameCopies tells the planner not to stage new
 * directories (staging would copy every file once more).
 *
 * Checksums: `requestChecksumCalculation` and `responseChecksumValidation` are WHEN_REQUIRED.
 * The SDK's default (CRC32 trailers on every streamed upload) fails on Swift and is stored
 * corrupted by some other S3-compatible servers. DeleteObjects, which S3 requires a checksum
 * for, gets a Content-MD5 header (servers such as Swift refuse it without one; aws-sdk-js-v3
 * issue 6819), and a server that still refuses batch deletes gets one DeleteObject per key.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { _Object, CommonPrefix, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { quotePath, hasEscapedBytes } from '../../core/names.ts';
import { isSafeRelativePath } from '../../core/paths.ts';
import { assertSafePath } from '../jail.ts';
import { TargetError } from '../errors.ts';
import { readSecretFile } from '../secrets.ts';
import type { ConnectOptions, ConnectResult, PutOptions, PutSource, RemoteEntry, Target, TargetCapabilities } from '../target.ts';
import { decodeListedKey, dirPrefixOf, finalPrefixOfTemp, fingerprintMetadata, fingerprintOf, keyOf, parseS3Url, pathOfKey, type S3Location } from './keys.ts';
import { mapLimit } from './map-limit.ts';
import type { S3Spec } from './options.ts';
import { loadS3Sdk, type LoadedSdk } from './sdk-module.ts';
import { translateS3Error } from './translate-error.ts';

export const S3_DEFAULTS = {
  connections: 8,
  timeoutMs: 60_000,
  partSizeMiB: 16,
  /** Parts of one multipart upload in flight. */
  partsInParallel: 4,
  /** HEAD requests in flight while a listing reads fingerprints. */
  headsInParallel: 16,
  /** S3's limit of keys per DeleteObjects. */
  deleteBatch: 1000,
  /** CopyObject's limit; larger objects are copied in parts (UploadPartCopy). */
  maxCopySize: 5 * 1024 ** 3,
  /** Parts of such a copy: 10,000 parts at most, so up to 5 TiB, the S3 object limit. */
  copyPartSize: 512 * 1024 ** 2,
} as const;

/** Limits the tests lower to reach the large-object paths with small objects. */
export interface S3Tuning {
  readonly maxCopySize: number;
  readonly copyPartSize: number;
}

interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export function createS3Target(spec: S3Spec, url: URL, tuning?: S3Tuning): Target {
  const loc = parseS3Url(url);
  if ((spec.secretAccessKey !== undefined || spec.secretAccessKeyFile !== undefined) && spec.accessKeyId === undefined) {
    throw new TargetError('E_CONFIG', `target s3://${loc.bucket}/${loc.prefix}: a secret access key is set without accessKeyId: set both`);
  }
  if (spec.accessKeyId !== undefined && spec.secretAccessKey === undefined && spec.secretAccessKeyFile === undefined) {
    throw new TargetError('E_CONFIG', `target s3://${loc.bucket}/${loc.prefix}: accessKeyId is set without secretAccessKey or secretAccessKeyFile`);
  }
  if (spec.accessKeyId !== undefined && spec.profile !== undefined) {
    throw new TargetError('E_CONFIG', `target s3://${loc.bucket}/${loc.prefix}: set either accessKeyId or profile, not both`);
  }
  return new S3Target(spec, loc, tuning);
}

/** One path segment at a time, so '/' stays a separator in CopySource. */
function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export class S3Target implements Target {
  readonly caps: TargetCapabilities;
  readonly displayName: string;
  readonly maxInFlight: number;
  private readonly connections: number;
  private readonly partSize: number;
  private sdk: LoadedSdk | undefined;
  private client: S3Client | undefined;
  /** The access key id and secret, masked in every message (they never should appear). */
  private secrets: string[] = [];
  /** Stale uploads are swept once per process: later connects are reconnects of ours. */
  private swept = false;

  constructor(
    private readonly spec: S3Spec,
    private readonly loc: S3Location,
    private readonly tuning: S3Tuning = S3_DEFAULTS,
  ) {
    this.displayName = `s3://${loc.bucket}/${loc.prefix}${spec.endpoint === undefined ? '' : ` at ${new URL(spec.endpoint).origin}`}`;
    this.connections = spec.connections ?? S3_DEFAULTS.connections;
    this.maxInFlight = this.connections;
    this.partSize = (spec.partSizeMiB ?? S3_DEFAULTS.partSizeMiB) * 1024 * 1024;
    this.caps = {
      preservesMtime: true,
      fastRecursiveRemove: true,
      byteNames: false,
      implicitDirs: spec.directoryMarkers !== true,
      dirRenameCopies: true,
    };
  }

  // ---------------------------------------------------------------- connection set-up

  private credentials(): Credentials | undefined {
    const { accessKeyId, secretAccessKey, secretAccessKeyFile } = this.spec;
    if (accessKeyId === undefined) return undefined;
    const secret = secretAccessKey ?? readSecretFile(secretAccessKeyFile!, 'secretAccessKeyFile');
    return { accessKeyId, secretAccessKey: secret };
  }

  private clientConfig(): S3ClientConfig {
    const creds = this.credentials(); // re-read at each connect: an operator's fix is seen
    this.secrets = creds === undefined ? [] : [creds.accessKeyId, creds.secretAccessKey];
    const timeoutMs = this.spec.timeoutMs ?? S3_DEFAULTS.timeoutMs;
    return {
      region: this.spec.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
      ...(this.spec.endpoint === undefined ? {} : { endpoint: this.spec.endpoint }),
      forcePathStyle: this.spec.pathStyle ?? this.spec.endpoint !== undefined,
      ...(creds === undefined ? {} : { credentials: creds }),
      ...(this.spec.profile === undefined ? {} : { profile: this.spec.profile }),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The SDK retries throttling (503 SlowDown) and 5xx with its own backoff first; what
      // still fails reaches the engine, which backs off the operation or the target.
      maxAttempts: 3,
      requestHandler: {
        connectionTimeout: timeoutMs,
        requestTimeout: timeoutMs,
        httpAgent: { keepAlive: true, maxSockets: this.connections },
        httpsAgent: { keepAlive: true, maxSockets: this.connections },
      },
    };
  }

  /** Content-MD5 on DeleteObjects (see the header): the body is serialized by the build step. */
  private addContentMd5(client: S3Client): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
        if (context.commandName === 'DeleteObjectsCommand' && request?.headers !== undefined && (typeof request.body === 'string' || Buffer.isBuffer(request.body))) {
          request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
        }
        return next(args);
      },
      { step: 'build', name: 'syncInotifyContentMd5', override: true },
    );
  }

  /**
   * A prefix needs no creating (an object store has no folders), so `rootCreated` is always
   * false. A bucket that is gone after we wrote to it (`rootExisted`) is waited for
   * (E_ROOT_GONE), never created: making buckets is the operator's business.
   */
  async connect(options: ConnectOptions = {}): Promise<ConnectResult> {
    this.sdk ??= await loadS3Sdk().catch((err: unknown) => {
      throw new TargetError('E_CONFIG', `${this.displayName}: the AWS SDK could not be loaded (${String(err)}): reinstall sync-inotify's dependencies`);
    });
    this.client?.destroy();
    const client = new this.sdk.s3.S3Client(this.clientConfig());
    this.addContentMd5(client);
    this.client = client;
    const what = `connect to ${this.displayName}`;
    try {
      await client.send(new this.sdk.s3.HeadBucketCommand({ Bucket: this.loc.bucket }));
    } catch (err) {
      const t = translateS3Error(err, what, undefined, this.secrets, { E_PERMISSION: 'E_AUTH', E_NOT_FOUND: 'E_CONFIG', E_UNSUPPORTED: 'E_CONFIG' });
      if (t.code === 'E_CONFIG' && /404|NoSuchBucket|NotFound/.test(t.message)) {
        if (options.rootExisted === true) throw new TargetError('E_ROOT_GONE', `${what}: the bucket ${this.loc.bucket} is gone: waiting for it to come back`, { path: '', cause: err });
        throw new TargetError('E_CONFIG', `${what}: the bucket ${this.loc.bucket} does not exist: create it first (${t.message})`, { cause: err });
      }
      if (t.code === 'E_AUTH') {
        const from = this.spec.accessKeyId !== undefined ? 'accessKeyId/secretAccessKey' : this.spec.profile !== undefined ? `profile ${this.spec.profile}` : 'the AWS environment variables or shared credentials file';
        throw new TargetError('E_AUTH', `${t.message}; credentials from ${from}`, { cause: err });
      }
      throw t;
    }
    if (!this.swept) {
      await this.abortUploads(dirPrefixOf(this.loc, ''), () => true);
      this.swept = true;
    }
    return { rootCreated: false };
  }

  private c(): S3Client {
    if (this.client === undefined) throw new TargetError('E_CONNECTION', `${this.displayName}: not connected`);
    return this.client;
  }

  private s3(): LoadedSdk['s3'] {
    if (this.sdk === undefined) throw new TargetError('E_CONNECTION', `${this.displayName}: not connected`);
    return this.sdk.s3;
  }

  private fail(err: unknown, op: string, path: string | undefined): TargetError {
    return translateS3Error(err, op, path, this.secrets);
  }

  /**
   * Aborts the multipart uploads under `prefix` that `which` picks. Between cycles nothing of
   * ours is in flight, so any upload there is a leftover (a crash, a lost connection).
   */
  private async abortUploads(prefix: string, which: (key: string) => boolean): Promise<void> {
    const s3 = this.s3();
    const found: { key: string; id: string }[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    try {
      for (;;) {
        const page = await this.c().send(
          new s3.ListMultipartUploadsCommand({ Bucket: this.loc.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker, EncodingType: 'url' }),
        );
        const decode = page.EncodingType === 'url' ? decodeListedKey : (k: string) => k;
        for (const u of page.Uploads ?? []) {
          const key = u.Key === undefined ? undefined : decode(u.Key);
          if (key !== undefined && u.UploadId !== undefined && which(key)) found.push({ key, id: u.UploadId });
        }
        if (page.IsTruncated !== true) break;
        keyMarker = page.NextKeyMarker === undefined ? undefined : decode(page.NextKeyMarker);
        idMarker = page.NextUploadIdMarker;
      }
      await mapLimit(found, this.connections, async (u) => {
        await this.c()
          .send(new s3.AbortMultipartUploadCommand({ Bucket: this.loc.bucket, Key: u.key, UploadId: u.id }))
          .catch((err: unknown) => {
            if (this.fail(err, 'abort upload', undefined).code !== 'E_NOT_FOUND') throw err;
          });
      });
    } catch (err) {
      const t = this.fail(err, 'abort stale multipart uploads', undefined);
      // A server without multipart listing has nothing of ours to abort.
      if (t.code !== 'E_UNSUPPORTED') throw t;
    }
  }

  // ---------------------------------------------------------------- paths and helpers

  private key(path: string): string {
    if (!isSafeRelativePath(path)) throw new TargetError('E_NAME', `refusing path ${quotePath(path)}: not a safe relative path`, { path });
    if (hasEscapedBytes(path)) {
      throw new TargetError('E_NAME', `${quotePath(path)}: its name is not valid UTF-8, and S3 object keys are UTF-8 text: not mirrored (rename it to valid UTF-8)`, { path });
    }
    return keyOf(this.loc, path);
  }

  private dirPrefix(dir: string): string {
    this.key(dir); // the checks
    return dirPrefixOf(this.loc, dir);
  }

  /** HEAD of one key: undefined when missing. */
  private async head(key: string, path: string): Promise<{ size: number; metadata: Record<string, string> | undefined; lastModified: Date | undefined } | undefined> {
    try {
      const r = await this.c().send(new (this.s3().HeadObjectCommand)({ Bucket: this.loc.bucket, Key: key }));
      return { size: r.ContentLength ?? 0, metadata: r.Metadata, lastModified: r.LastModified };
    } catch (err) {
      const t = this.fail(err, 'stat', path);
      if (t.code === 'E_NOT_FOUND') return undefined;
      throw t;
    }
  }

  /** One page-walk of ListObjectsV2 under `prefix` (with `/` as delimiter when asked). */
  private async *listPages(prefix: string, delimiter: boolean, path: string): AsyncGenerator<{ objects: _Object[]; prefixes: CommonPrefix[] }> {
    const s3 = this.s3();
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.c().send(
          new s3.ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: prefix, ContinuationToken: token, EncodingType: 'url', ...(delimiter ? { Delimiter: '/' } : {}) }),
        );
      } catch (err) {
        throw this.fail(err, 'list', path);
      }
      // A server that ignored encoding-type says so by leaving it out of the answer.
      const decode = page.EncodingType === 'url' ? decodeListedKey : (k: string) => k;
      yield {
        objects: (page.Contents ?? []).map((o) => (o.Key === undefined ? o : { ...o, Key: decode(o.Key) })),
        prefixes: (page.CommonPrefixes ?? []).map((c) => (c.Prefix === undefined ? c : { Prefix: decode(c.Prefix) })),
      };
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /** Every key under `prefix` (recursive), the marker `prefix` itself included. */
  private async keysUnder(prefix: string, path: string): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    for await (const page of this.listPages(prefix, false, path)) for (const o of page.objects) if (o.Key !== undefined) out.push({ key: o.Key, size: o.Size ?? 0 });
    return out;
  }

  /** Does anything live under directory prefix `prefix` (a marker counts)? */
  private async anyUnder(prefix: string, path: string): Promise<boolean> {
    try {
      const page = await this.c().send(new (this.s3().ListObjectsV2Command)({ Bucket: this.loc.bucket, Prefix: prefix, MaxKeys: 1, EncodingType: 'url' }));
      return (page.Contents ?? []).length > 0;
    } catch (err) {
      throw this.fail(err, 'stat', path);
    }
  }

  /** Deletes keys in batches of 1000 (Content-MD5 added), one by one where batches are refused. */
  private async deleteKeys(keys: readonly string[], path: string): Promise<void> {
    const s3 = this.s3();
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += S3_DEFAULTS.deleteBatch) batches.push(keys.slice(i, i + S3_DEFAULTS.deleteBatch));
    const oneByOne = (list: readonly string[]) =>
      mapLimit(list, this.connections, async (key) => {
        try {
          await this.c().send(new s3.DeleteObjectCommand({ Bucket: this.loc.bucket, Key: key }));
        } catch (err) {
          const t = this.fail(err, 'remove', pathOfKey(this.loc, key) ?? path);
          if (t.code !== 'E_NOT_FOUND') throw t;
        }
      });
    if (keys.length === 1) {
      await oneByOne(keys);
      return;
    }
    await mapLimit(batches, Math.max(1, Math.floor(this.connections / 2)), async (batch) => {
      let r;
      try {
        r = await this.c().send(new s3.DeleteObjectsCommand({ Bucket: this.loc.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      } catch (err) {
        const t = this.fail(err, 'remove', path);
        if (t.code !== 'E_UNSUPPORTED' && t.code !== 'E_PROTOCOL') throw t;
        await oneByOne(batch); // the server refuses batch deletes: one request per key
        return;
      }
      const failed = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        const e = failed[0]!;
        const name = e.Key === undefined ? path : (pathOfKey(this.loc, e.Key) ?? path);
        throw this.fail(Object.assign(new Error(e.Message ?? 'delete refused'), { name: e.Code ?? 'Unknown' }), `remove (${failed.length} of ${batch.length} refused)`, name);
      }
    });
  }

  private async copyKey(from: string, to: string, size: number, path: string): Promise<void> {
    const extra = {
      ...(this.spec.storageClass === undefined ? {} : { StorageClass: this.spec.storageClass as never }),
      ...(this.spec.acl === undefined ? {} : { ACL: this.spec.acl }),
    };
    const copySource = `${this.loc.bucket}/${encodeKey(from)}`;
    if (size > this.tuning.maxCopySize) {
      await this.copyInParts(from, to, size, path, copySource, extra);
      return;
    }
    try {
      // MetadataDirective COPY: our fingerprint travels with the object.
      await this.c().send(new (this.s3().CopyObjectCommand)({ Bucket: this.loc.bucket, Key: to, CopySource: copySource, MetadataDirective: 'COPY', ...extra }));
    } catch (err) {
      throw this.fail(err, 'rename (copy)', path);
    }
  }

  /**
   * CopyObject stops at 5 GiB: a larger object is copied as a multipart upload whose parts
   * are ranges of the source (UploadPartCopy), still without a byte over our link. The
   * metadata (our fingerprint) is read from the source and set on the new upload.
   */
  private async copyInParts(from: string, to: string, size: number, path: string, copySource: string, extra: object): Promise<void> {
    const s3 = this.s3();
    const h = await this.head(from, path);
    if (h === undefined) throw new TargetError('E_NOT_FOUND', `rename ${quotePath(path)}: no such file`, { path });
    let uploadId: string | undefined;
    try {
      const created = await this.c().send(new s3.CreateMultipartUploadCommand({ Bucket: this.loc.bucket, Key: to, ContentType: contentTypeOf(to), ...(h.metadata === undefined ? {} : { Metadata: h.metadata }), ...extra }));
      uploadId = created.UploadId;
      const partSize = this.tuning.copyPartSize;
      const ranges = Array.from({ length: Math.ceil(size / partSize) }, (_, i) => [i * partSize, Math.min(size, (i + 1) * partSize) - 1] as const);
      const parts = await mapLimit(ranges, S3_DEFAULTS.partsInParallel, async ([start, end], i) => {
        const r = await this.c().send(
          new s3.UploadPartCopyCommand({ Bucket: this.loc.bucket, Key: to, UploadId: uploadId, PartNumber: i + 1, CopySource: copySource, CopySourceRange: `bytes=${start}-${end}` }),
        );
        return { PartNumber: i + 1, ETag: r.CopyPartResult?.ETag };
      });
      await this.c().send(new s3.CompleteMultipartUploadCommand({ Bucket: this.loc.bucket, Key: to, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      if (uploadId !== undefined) {
        const id = uploadId;
        await this.c().send(new s3.AbortMultipartUploadCommand({ Bucket: this.loc.bucket, Key: to, UploadId: id })).catch(() => undefined);
      }
      throw this.fail(err, 'rename (copy in parts)', path);
    }
  }

  // ---------------------------------------------------------------- the contract

  async stat(path: string): Promise<RemoteEntry | undefined> {
    assertSafePath(path); // before anything is sent (targets/jail.ts)
    const key = this.key(path);
    if (path === '') return { path, kind: 'dir', size: 0 };
    const h = await this.head(key, path);
    if (h !== undefined) {
      const fp = fingerprintOf(h.metadata, h.size);
      return { path, kind: 'file', size: h.size, ...(fp === undefined ? {} : { mtimeMs: fp.mtimeMs }) };
    }
    return (await this.anyUnder(`${key}/`, path)) ? { path, kind: 'dir', size: 0 } : undefined;
  }

  async list(dir: string): Promise<RemoteEntry[]> {
    assertSafePath(dir); // before anything is sent (targets/jail.ts)
    const prefix = this.dirPrefix(dir);
    const files: { path: string; key: string; size: number }[] = [];
    const dirs: RemoteEntry[] = [];
    let marker = false;
    for await (const page of this.listPages(prefix, true, dir)) {
      for (const o of page.objects) {
        if (o.Key === prefix) marker = true;
        const p = o.Key === undefined || o.Key.endsWith('/') ? undefined : pathOfKey(this.loc, o.Key);
        if (p !== undefined) files.push({ path: p, key: o.Key!, size: o.Size ?? 0 });
      }
      for (const cp of page.prefixes) {
        const p = cp.Prefix === undefined ? undefined : pathOfKey(this.loc, cp.Prefix.slice(0, -1));
        if (p !== undefined) dirs.push({ path: p, kind: 'dir', size: 0 });
      }
    }
    if (dir !== '' && !marker && files.length === 0 && dirs.length === 0 && this.spec.directoryMarkers === true) {
      // With markers, a directory is there or not; without, every prefix is an empty directory.
      throw new TargetError('E_NOT_FOUND', `list ${quotePath(dir)}: no such directory`, { path: dir });
    }
    // The source mtime is in our metadata only, which listings do not carry: one HEAD each.
    const entries = await mapLimit(files, S3_DEFAULTS.headsInParallel, async (f): Promise<RemoteEntry> => {
      const h = await this.head(f.key, f.path);
      const fp = h === undefined ? undefined : fingerprintOf(h.metadata, h.size);
      return { path: f.path, kind: 'file', size: h?.size ?? f.size, ...(fp === undefined ? {} : { mtimeMs: fp.mtimeMs }) };
    });
    return [...dirs, ...entries];
  }

  async put(path: string, source: PutSource, options: PutOptions = {}): Promise<void> {
    assertSafePath(path); // before anything is sent (targets/jail.ts)
    // No temp name is needed (an object appears whole), but an unsafe one is still refused.
    if (options.tempPath !== undefined) assertSafePath(options.tempPath);
    const key = this.key(path);
    const s3 = this.s3();
    const common = {
      Bucket: this.loc.bucket,
      Key: key,
      ContentType: contentTypeOf(path),
      ...(this.spec.storageClass === undefined ? {} : { StorageClass: this.spec.storageClass as never }),
      ...(this.spec.acl === undefined ? {} : { ACL: this.spec.acl }),
    };
    if (source.size <= this.partSize) {
      const body = source.buffer ?? (await readAll(source.open(), path));
      try {
        await this.c().send(
          new s3.PutObjectCommand({
            ...common,
            Body: body,
            ContentLength: body.length,
            Metadata: fingerprintMetadata({ size: body.length, mtimeMs: source.mtimeMs, sha256: sha256(body) }),
          }),
        );
      } catch (err) {
        throw this.fail(err, 'put', path);
      }
      return;
    }
    // Metadata is sent before the content, so a large file is read twice: once to hash it
    // here, once to send it. A change between the two is caught by the engine, which sees
    // what passed through the second stream and sends the file again.
    const digest = await hashStream(source.open(), path);
    const upload = new this.sdk!.storage.Upload({
      client: this.c(),
      params: { ...common, Body: source.open(), Metadata: fingerprintMetadata({ size: source.size, mtimeMs: source.mtimeMs, sha256: digest }) },
      partSize: this.partSize,
      queueSize: S3_DEFAULTS.partsInParallel,
      leavePartsOnError: false, // a failed upload is aborted, not left to cost storage
    });
    try {
      await upload.done();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as { syscall?: string }).syscall === 'read') throw sourceFailed(path, err);
      throw this.fail(err, 'put (multipart)', path);
    }
  }

  async mkdir(path: string): Promise<void> {
    assertSafePath(path); // before anything is sent (targets/jail.ts)
    const key = this.key(path);
    if (path === '' || this.spec.directoryMarkers !== true) return; // a prefix needs no object
    try {
      await this.c().send(new (this.s3().PutObjectCommand)({ Bucket: this.loc.bucket, Key: `${key}/`, Body: Buffer.alloc(0), ContentLength: 0, ContentType: 'application/x-directory' }));
    } catch (err) {
      throw this.fail(err, 'mkdir', path);
    }
  }

  async remove(path: string): Promise<void> {
    assertSafePath(path); // before anything is sent (targets/jail.ts)
    const key = this.key(path);
    const final = finalPrefixOfTemp(path);
    // A journalled temp name: nothing was written under it, but a multipart upload of its
    // final name may have been cut off (a crash): abort it. The target is between cycles.
    if (final !== undefined) await this.abortUploads(keyOf(this.loc, final), () => true);
    await this.deleteKeys([key], path);
  }

  async rmdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    assertSafePath(path); // before anything is sent (targets/jail.ts)
    const prefix = this.dirPrefix(path);
    if (path === '') throw new TargetError('E_UNSUPPORTED', 'rmdir of the target root', { path });
    const keys = (await this.keysUnder(prefix, path)).map((k) => k.key);
    if (options.recursive !== true && keys.some((k) => k !== prefix)) {
      throw new TargetError('E_NOT_EMPTY', `rmdir ${quotePath(path)}: directory not empty`, { path });
    }
    if (keys.length > 0) await this.deleteKeys(keys, path);
  }

  async rename(from: string, to: string): Promise<void> {
    assertSafePath(from);
    assertSafePath(to);
    const fromKey = this.key(from);
    const toKey = this.key(to);
    const file = await this.head(fromKey, from);
    const toIsDir = await this.anyUnder(`${toKey}/`, to);
    if (file !== undefined) {
      if (toIsDir) throw new TargetError('E_EXISTS', `rename ${quotePath(from)}: a directory is in the way at ${quotePath(to)}`, { path: from });
      await this.copyKey(fromKey, toKey, file.size, from);
      await this.deleteKeys([fromKey], from);
      return;
    }
    const objects = await this.keysUnder(`${fromKey}/`, from);
    if (objects.length === 0) throw new TargetError('E_NOT_FOUND', `rename ${quotePath(from)}: no such file or directory`, { path: from });
    if ((await this.head(toKey, to)) !== undefined) throw new TargetError('E_EXISTS', `rename ${quotePath(from)}: a file is in the way at ${quotePath(to)}`, { path: from });
    if (toIsDir && (await this.keysUnder(`${toKey}/`, to)).some((k) => k.key !== `${toKey}/`)) {
      throw new TargetError('E_EXISTS', `rename ${quotePath(from)}: ${quotePath(to)} is a directory that is not empty`, { path: from });
    }
    // Every object under the directory, copied in parallel; the old ones go only once all
    // copies are there, so a failure half way leaves both trees, never neither.
    const fromPrefix = `${fromKey}/`;
    await mapLimit(objects, this.connections, (o) => this.copyKey(o.key, `${toKey}/${o.key.slice(fromPrefix.length)}`, o.size, pathOfKey(this.loc, o.key) ?? from));
    await this.deleteKeys(
      objects.map((o) => o.key),
      from,
    );
  }

  async hash(path: string): Promise<string> {
    assertSafePath(path); // before anything is sent (targets/jail.ts)
    const key = this.key(path);
    const h = await this.head(key, path);
    if (h === undefined) throw new TargetError('E_NOT_FOUND', `hash ${quotePath(path)}: no such file`, { path });
    const fp = fingerprintOf(h.metadata, h.size);
    if (fp !== undefined) return fp.sha256;
    // Not uploaded by us (no fingerprint): read it back and hash what the server holds.
    try {
      const r = await this.c().send(new (this.s3().GetObjectCommand)({ Bucket: this.loc.bucket, Key: key }));
      return await hashStream(r.Body as Readable, path, false);
    } catch (err) {
      throw this.fail(err, 'hash', path);
    }
  }

  async close(): Promise<void> {
    this.client?.destroy();
    this.client = undefined;
  }
}

/** The type browsers get when the bucket serves a site; the SDK's default is octet-stream. */
function contentTypeOf(path: string): string {
  const dot = path.lastIndexOf('.');
  const ext = dot > path.lastIndexOf('/') ? path.slice(dot + 1).toLowerCase() : '';
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

/** The common web types; mime-types' tables cost a few ms to build, not worth it here. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  xml: 'application/xml',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  pdf: 'application/pdf',
  woff: 'font/woff',
  woff2: 'font/woff2',
  mp4: 'video/mp4',
  webm: 'video/webm',
  wasm: 'application/wasm',
};

function sourceFailed(path: string, err: unknown): TargetError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return new TargetError('E_NOT_FOUND', `put ${quotePath(path)}: reading the local source failed (${code}); the path will be looked at again`, { path, cause: err });
}

async function readAll(stream: Readable, path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  } catch (err) {
    throw sourceFailed(path, err);
  }
  return Buffer.concat(chunks);
}

async function hashStream(stream: Readable, path: string, local = true): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of stream) h.update(chunk as Buffer);
  } catch (err) {
    if (local) throw sourceFailed(path, err);
    throw err;
  }
  return h.digest('hex');
}
