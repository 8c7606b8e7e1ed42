/**
 * S3-specific behaviour against OpenStack Swift's s3api on loopback (test/servers/swift.ts):
 * batch deletes with Content-MD5, stale multipart uploads, directory markers, fingerprints,
 * where credentials come from, and how refusals are reported.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateMultipartUploadCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { TargetError } from '../../src/targets/errors.ts';
import { createTarget, type TargetSpec } from '../../src/targets/registry.ts';
import { createS3Target } from '../../src/targets/s3/s3-target.ts';
import type { Target } from '../../src/targets/target.ts';
import { bufferSource } from '../conformance/suite.ts';
import { createBucket, rawClient, s3View, uploadsInProgress } from '../helpers/s3-view.ts';
import { freePort } from '../servers/net.ts';
import { startSwift, SWIFT_THROTTLED_CREDENTIALS, type SwiftServer } from '../servers/swift.ts';
import { expectCode } from '../helpers/expect-code.ts';

const BUCKET = 'targets';

describe('S3 target against Swift s3api', { concurrency: 1 }, () => {
  let srv: SwiftServer | undefined;
  let client: S3Client;
  const open: Target[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'si-s3-target-'));
  let n = 0;

  before(async () => {
    srv = await startSwift();
    if (srv === undefined) return;
    await createBucket(srv, BUCKET);
    client = rawClient(srv);
  });
  after(async () => {
    for (const t of open) await t.close();
    client?.destroy();
    await srv?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A target on a fresh prefix; `keys` replace the defaults (credentials, endpoint). */
  const target = (keys: Partial<TargetSpec> = {}, prefix = `p${++n}`): { t: Target; prefix: string } => {
    const t = createTarget({ url: `s3://${BUCKET}/${prefix}`, endpoint: srv!.endpoint, accessKeyId: srv!.accessKeyId, secretAccessKey: srv!.secretAccessKey, ...keys });
    open.push(t);
    return { t, prefix };
  };
  const test = (name: string, body: () => Promise<void>) =>
    it(name, async (ctx) => {
      if (srv === undefined) return ctx.skip('Swift not available');
      await body();
    });

  test('a recursive rmdir deletes in one batch request (Content-MD5 accepted), not one request per key', async () => {
    const { t, prefix } = target();
    await t.connect();
    for (let i = 0; i < 12; i++) await t.put(`d/f${i}`, bufferSource(`f${i}`), {});
    const before = srv!.log().length;
    await t.rmdir('d', { recursive: true });
    const log = srv!.log().slice(before);
    assert.match(log, new RegExp(`POST /${BUCKET}/%3Fdelete%3D HTTP/1\\.[01] 200`), `no batch delete in the proxy log:\n${log.slice(-3000)}`);
    assert.doesNotMatch(log, new RegExp(`proxy-server: .*DELETE /${BUCKET}/${prefix}/d/f`), 'keys deleted one by one');
    assert.deepEqual(await s3View(client, BUCKET, prefix).names(''), []);
  });

  test('connect aborts multipart uploads left under our prefix, and only there', async () => {
    const { t, prefix } = target();
    const ours = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${prefix}/big.bin` }));
    const theirs = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${prefix}-other/big.bin` }));
    assert.ok(ours.UploadId && theirs.UploadId);
    await t.connect();
    assert.deepEqual(await uploadsInProgress(client, BUCKET, `${prefix}/`), []);
    assert.deepEqual(await uploadsInProgress(client, BUCKET, `${prefix}-other/`), [`${prefix}-other/big.bin`]);
  });

  test('removing a journalled temp name aborts the cut-off upload of its final name', async () => {
    const { t, prefix } = target();
    await t.connect();
    await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${prefix}/d/video.mp4` }));
    await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${prefix}/d/other.mp4` }));
    await t.remove('d/.video.mp4.sync-inotify-a1b2c3.tmp');
    assert.deepEqual(await uploadsInProgress(client, BUCKET, `${prefix}/`), [`${prefix}/d/other.mp4`]);
  });

  test('a multipart upload carries our fingerprint: hash and stat need no download', async () => {
    const { t, prefix } = target({ partSizeMiB: 5 });
    await t.connect();
    const big = Buffer.alloc(5 * 1024 * 1024 + 100, 3);
    const mtimeMs = Date.UTC(2022, 1, 3, 4, 5, 6);
    await t.put('big.bin', bufferSource(big, mtimeMs), {});
    const h = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}/big.bin` }));
    assert.match(h.ETag ?? '', /-2"?$/, 'uploaded in two parts');
    assert.equal(h.ContentType, 'application/octet-stream');
    assert.equal(await t.hash!('big.bin'), (await import('node:crypto')).createHash('sha256').update(big).digest('hex'));
    assert.equal((await t.stat('big.bin'))?.mtimeMs, mtimeMs);
  });

  test('an object above the copy limit is renamed by a multipart copy of ranges, fingerprint kept', async () => {
    const prefix = `p${++n}`;
    const spec = { url: `s3://${BUCKET}/${prefix}`, endpoint: srv!.endpoint, accessKeyId: srv!.accessKeyId, secretAccessKey: srv!.secretAccessKey, connections: 4 };
    // The limits lowered so that an 11 MiB object takes the path of one over 5 GiB.
    const t = createS3Target(spec, new URL(spec.url), { maxCopySize: 5 * 1024 * 1024, copyPartSize: 5 * 1024 * 1024 });
    open.push(t);
    await t.connect();
    const big = Buffer.alloc(11 * 1024 * 1024 + 1);
    for (let i = 0; i < big.length; i += 1024) big[i] = (i / 1024) & 0xff;
    const mtimeMs = Date.UTC(2023, 4, 5, 6, 7, 8);
    await t.put('a/big.bin', bufferSource(big, mtimeMs), {});
    await t.rename!('a', 'b');
    const view = s3View(client, BUCKET, prefix);
    assert.ok((await view.read('b/big.bin'))?.equals(big), 'the bytes arrived whole');
    assert.equal(await view.exists('a/big.bin'), false);
    const h = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}/b/big.bin` }));
    assert.match(h.ETag ?? '', /-3"?$/, 'copied as three ranges');
    assert.equal((await t.stat('b/big.bin'))?.mtimeMs, mtimeMs, 'our fingerprint came along');
    assert.deepEqual(await uploadsInProgress(client, BUCKET, `${prefix}/`), []);
  });

  test('an object written by someone else: no mtime claimed, hashed by reading it back', async () => {
    const { t, prefix } = target();
    await t.connect();
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/foreign.txt`, Body: 'not ours' }));
    const st = await t.stat('foreign.txt');
    assert.equal(st?.size, 8);
    assert.equal(st?.mtimeMs, undefined);
    assert.equal(await t.hash!('foreign.txt'), (await import('node:crypto')).createHash('sha256').update('not ours').digest('hex'));
  });

  test('names with a control character, plus signs and spaces list exactly (encoding-type=url)', async () => {
    const { t } = target();
    await t.connect();
    const names = ['ctl\x01char', 'a+b c%d', 'tab\there'];
    for (const name of names) await t.put(`d/${name}`, bufferSource(name), {});
    await t.put(`d/sub\x02dir/f`, bufferSource('f'), {});
    const listed = (await t.list('d')).map((e) => `${e.kind}:${e.path}`).sort();
    assert.deepEqual(listed, [...names.map((n) => `file:d/${n}`), 'dir:d/sub\x02dir'].sort());
    await t.rmdir('d', { recursive: true });
    assert.deepEqual(await t.list('d'), []);
  });

  test('503 SlowDown from a throttling server: retried by the SDK, then E_PROTOCOL (transient) until everything lands', async () => {
    const slow = { ...srv!, ...SWIFT_THROTTLED_CREDENTIALS };
    await createBucket(slow, 'throttled');
    const t = createTarget({ url: 's3://throttled/x', endpoint: srv!.endpoint, ...SWIFT_THROTTLED_CREDENTIALS, connections: 8 });
    open.push(t);
    await t.connect();
    const before = srv!.log().length;
    let pending = Array.from({ length: 12 }, (_, i) => `f${i}`);
    const seen = new Set<string>();
    // What the engine does with a transient error: try the path again a little later.
    for (let round = 0; pending.length > 0 && round < 40; round++) {
      const results = await Promise.allSettled(pending.map((p) => t.put(p, bufferSource(p), {})));
      const failed: string[] = [];
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') return;
        assert.ok(r.reason instanceof TargetError, String(r.reason));
        seen.add(`${r.reason.code} ${r.reason.scope} ${/SlowDown/.test(r.reason.message)}`);
        failed.push(pending[i]!);
      });
      pending = failed;
      if (pending.length > 0) await new Promise((r) => setTimeout(r, 1_000));
    }
    assert.deepEqual(pending, [], 'every file landed in the end');
    const log = srv!.log().slice(before);
    assert.match(log, /PUT \/throttled\/x\/f\d+\S* HTTP\/1\.[01] 503/, 'the server did throttle');
    assert.ok([...seen].every((s) => s === 'E_PROTOCOL transient true'), [...seen].join(', '));
    const slowClient = rawClient(slow);
    try {
      assert.equal((await s3View(slowClient, 'throttled', 'x').names('')).length, 12);
    } finally {
      slowClient.destroy();
    }
  });

  test('content types follow the extension', async () => {
    const { t, prefix } = target();
    await t.connect();
    await t.put('index.html', bufferSource('<p>'), {});
    const h = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}/index.html` }));
    assert.equal(h.ContentType, 'text/html; charset=utf-8');
  });

  test('directoryMarkers: mkdir writes dir/, an empty directory lists and stats, rmdir removes it', async () => {
    const { t, prefix } = target({ directoryMarkers: true });
    assert.equal(t.caps.implicitDirs, false);
    await t.connect();
    await t.mkdir('empty');
    const h = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}/empty/` }));
    assert.equal(h.ContentLength, 0);
    assert.deepEqual(await t.list(''), [{ path: 'empty', kind: 'dir', size: 0 }]);
    assert.deepEqual(await t.list('empty'), []);
    assert.equal((await t.stat('empty'))?.kind, 'dir');
    await t.rmdir('empty');
    assert.equal(await t.stat('empty'), undefined);
    await expectCode(t.list('empty'), 'E_NOT_FOUND');
  });

  test('without markers mkdir writes nothing', async () => {
    const { t, prefix } = target();
    assert.equal(t.caps.implicitDirs, true);
    await t.connect();
    await t.mkdir('nothing');
    assert.deepEqual(await s3View(client, BUCKET, prefix).names(''), []);
  });

  test('credentials from a secret file, the AWS environment variables, or a shared credentials profile', async () => {
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, `${srv!.secretAccessKey}\n`);
    await target({ secretAccessKey: undefined, secretAccessKeyFile: secretFile }).t.connect();

    const saved = { ...process.env };
    try {
      process.env['AWS_ACCESS_KEY_ID'] = srv!.accessKeyId;
      process.env['AWS_SECRET_ACCESS_KEY'] = srv!.secretAccessKey;
      await target({ accessKeyId: undefined, secretAccessKey: undefined }).t.connect();
      delete process.env['AWS_ACCESS_KEY_ID'];
      delete process.env['AWS_SECRET_ACCESS_KEY'];
      const shared = join(dir, 'credentials');
      writeFileSync(shared, `[sitest]\naws_access_key_id = ${srv!.accessKeyId}\naws_secret_access_key = ${srv!.secretAccessKey}\n`);
      process.env['AWS_SHARED_CREDENTIALS_FILE'] = shared;
      process.env['AWS_CONFIG_FILE'] = join(dir, 'no-config');
      await target({ accessKeyId: undefined, secretAccessKey: undefined, profile: 'sitest' }).t.connect();
    } finally {
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  test('a wrong secret is E_AUTH (pause) and the message shows neither key', async () => {
    const secret = 'not-the-secret-93ab71';
    const err = await expectCode(target({ secretAccessKey: secret }).t.connect(), 'E_AUTH');
    assert.equal(err.scope, 'pause');
    assert.ok(!err.message.includes(secret) && !err.message.includes(srv!.accessKeyId), err.message);
    assert.match(err.message, /credentials from accessKeyId\/secretAccessKey/);
  });

  test('a missing bucket is E_CONFIG and says to create it; an unreachable endpoint is E_CONNECTION (retried)', async () => {
    const t = createTarget({ url: 's3://no-such-bucket/x', endpoint: srv!.endpoint, accessKeyId: srv!.accessKeyId, secretAccessKey: srv!.secretAccessKey });
    open.push(t);
    const missing = await expectCode(t.connect(), 'E_CONFIG');
    assert.match(missing.message, /does not exist: create it/);
    const down = await expectCode(target({ endpoint: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2_000 }).t.connect(), 'E_CONNECTION');
    assert.equal(down.scope, 'transient');
  });

  it('settings are checked when the target is created (no server needed)', () => {
    const base = { url: 's3://bucket/x', endpoint: 'http://127.0.0.1:1' };
    const refused: [Partial<TargetSpec>, RegExp][] = [
      [{ accessKeyId: 'id' }, /without secretAccessKey/],
      [{ secretAccessKey: 'hunter2-secret' }, /without accessKeyId/],
      [{ accessKeyId: 'id', secretAccessKey: 's', profile: 'p' }, /either accessKeyId or profile/],
      [{ partSizeMiB: 4 }, /at least 5/],
      [{ acl: 'world' as never }, /acl/],
      [{ endpoint: 'ftp://x' }, /endpoint/],
      [{ identityFile: '/k' }, /does not apply to S3/],
    ];
    for (const [keys, re] of refused) {
      assert.throws(
        () => createTarget({ ...base, ...keys }),
        (err: unknown) => err instanceof TargetError && err.code === 'E_CONFIG' && re.test(err.message) && !err.message.includes('hunter2-secret'),
        JSON.stringify(keys),
      );
    }
  });
});
