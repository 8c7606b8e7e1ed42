/**
 * End to end through the CLI against OpenStack Swift's s3api on loopback (test/servers/
 * swift.ts): the basic churn cases, renames as server-side copies, adoption by fingerprint,
 * once and check, and the faults (wrong credentials → paused, unreachable endpoint →
 * retrying). Swift keeps objects under hashed names, so the mirror is compared with the
 * source through a second S3 client: every source file must be an object with its bytes
 * (the ETag of a one-part upload is the content's MD5; others are read back), and nothing
 * else may be there. Empty directories are not compared: an object store keeps none.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createBucket, rawClient } from '../helpers/s3-view.ts';
import { freePort } from '../servers/net.ts';
import { startSwift, type SwiftServer } from '../servers/swift.ts';
import { Daemon, runCli, sleep, tempDir } from './harness.ts';

const BUCKET = 'e2e';
let server: SwiftServer | undefined;
let serverTried = false;
let client: S3Client | undefined;
const work = tempDir('s3-e2e');

async function swift(): Promise<SwiftServer | undefined> {
  if (!serverTried) {
    serverTried = true;
    server = await startSwift();
    if (server) {
      await createBucket(server, BUCKET);
      client = rawClient(server);
    }
  }
  return server;
}

after(async () => {
  client?.destroy();
  await server?.cleanup();
  work.cleanup();
});

let n = 0;
/** A fresh source folder and key prefix, and a config for them; `target` overrides target keys. */
function prepare(name: string, srv: SwiftServer, target: Record<string, unknown> = {}) {
  const base = join(work.path, `${name}-${++n}`);
  const src = join(base, 'src');
  mkdirSync(src, { recursive: true });
  const prefix = `${name}-${n}`;
  const keys = { endpoint: srv.endpoint, accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey, ...target };
  const cfg = join(base, 'config.yaml');
  writeFileSync(
    cfg,
    [
      'debounceMs: 20',
      'syncs:',
      `  - source: ${JSON.stringify(src)}`,
      '    targets:',
      `      - url: ${JSON.stringify(`s3://${BUCKET}/${prefix}`)}`,
      ...Object.entries(keys).map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`),
      '',
    ].join('\n'),
  );
  return { src, prefix, cfg, args: ['-c', cfg, '--state', join(base, 'state.db')] };
}

/** Every object under `prefix/`: relative path → size and ETag. */
async function objects(prefix: string): Promise<Map<string, { size: number; etag: string }>> {
  const out = new Map<string, { size: number; etag: string }>();
  let token: string | undefined;
  do {
    const page = await client!.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.set(o.Key!.slice(prefix.length + 1), { size: o.Size ?? 0, etag: (o.ETag ?? '').replace(/"/g, '') });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return out;
}

async function readObject(key: string): Promise<Buffer> {
  const r = await client!.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

function sourceFiles(root: string, rel = '', out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(join(root, rel))) {
    const p = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(join(root, p));
    if (st.isDirectory()) sourceFiles(root, p, out);
    else if (st.isFile()) out.set(p, join(root, p));
  }
  return out;
}

/** The first difference between the source files and the objects under `prefix`, or undefined. */
async function difference(src: string, prefix: string): Promise<string | undefined> {
  const local = sourceFiles(src);
  const remote = await objects(prefix);
  const onlyLocal = [...local.keys()].filter((p) => !remote.has(p));
  const onlyRemote = [...remote.keys()].filter((p) => !local.has(p));
  if (onlyLocal.length + onlyRemote.length > 0) return `only in source [${onlyLocal.slice(0, 5).join(', ')}], only in the bucket [${onlyRemote.slice(0, 5).join(', ')}]`;
  for (const [p, file] of local) {
    const bytes = readFileSync(file);
    const o = remote.get(p)!;
    if (o.size !== bytes.length) return `${p}: size ${bytes.length} vs ${o.size}`;
    const same = o.etag.includes('-') ? bytes.equals(await readObject(`${prefix}/${p}`)) : createHash('md5').update(bytes).digest('hex') === o.etag;
    if (!same) return `${p}: content differs`;
  }
  return undefined;
}

async function waitForBucket(src: string, prefix: string, timeoutMs: number, d?: Daemon): Promise<void> {
  const start = Date.now();
  let last: string | undefined;
  while (Date.now() - start < timeoutMs) {
    last = await difference(src, prefix).catch((e: Error) => e.message);
    if (last === undefined) {
      await sleep(150); // batched log lines (harness.ts)
      return;
    }
    await sleep(100);
  }
  throw new Error(`the bucket still differs after ${timeoutMs} ms: ${last}${d ? `\n--- daemon output (tail) ---\n${d.output.slice(-4000)}` : ''}`);
}

const CONVERGE_MS = 30_000;

describe('e2e churn: S3 (OpenStack Swift s3api)', { concurrency: 1 }, () => {
  const withDaemon = (name: string, body: (p: ReturnType<typeof prepare>, d: Daemon) => Promise<void>, target: Record<string, unknown> = {}) => async (ctx: { skip(msg: string): void }) => {
    const srv = await swift();
    if (!srv) return ctx.skip('Swift not available');
    const p = prepare(name, srv, target);
    const d = await Daemon.start(p.args);
    try {
      await body(p, d);
    } finally {
      await d.stop();
    }
  };

  it('mkdir -p 12 levels deep with a file at each level; empty directories make no objects', withDaemon('mkdirp', async (p, d) => {
    const levels = Array.from({ length: 12 }, (_, i) => `level${i}`);
    mkdirSync(join(p.src, ...levels), { recursive: true });
    for (let i = 1; i <= levels.length; i++) writeFileSync(join(p.src, ...levels.slice(0, i), `file${i}.txt`), `depth ${i}\n`);
    mkdirSync(join(p.src, 'empty', 'deeper'), { recursive: true });
    await waitForBucket(p.src, p.prefix, CONVERGE_MS, d);
    assert.ok(![...(await objects(p.prefix)).keys()].some((k) => k.startsWith('empty')), 'no object for an empty directory');
  }));

  it('a burst of 600 files in 12 directories: each sent exactly once', withDaemon('burst', async (p, d) => {
    for (let i = 0; i < 12; i++) {
      mkdirSync(join(p.src, `d${i}`));
      for (let j = 0; j < 50; j++) writeFileSync(join(p.src, `d${i}`, `f${j}.txt`), `file ${i}/${j} `.repeat((j % 7) + 1));
    }
    await waitForBucket(p.src, p.prefix, 120_000, d);
    assert.equal(d.opCounts()['put'], 600, `sent more than once:\n${d.repeatedPuts().slice(0, 20).join('\n')}`);
  }));

  it('edits, appends, deletes and rm -rf are mirrored', withDaemon('edits', async (p, d) => {
    mkdirSync(join(p.src, 'keep'));
    mkdirSync(join(p.src, 'tree/sub'), { recursive: true });
    writeFileSync(join(p.src, 'keep/a.txt'), 'first');
    writeFileSync(join(p.src, 'keep/b.txt'), 'to delete');
    for (let i = 0; i < 20; i++) writeFileSync(join(p.src, 'tree/sub', `f${i}`), `f${i}`);
    await waitForBucket(p.src, p.prefix, CONVERGE_MS, d);
    writeFileSync(join(p.src, 'keep/a.txt'), 'second, longer version');
    rmSync(join(p.src, 'keep/b.txt'));
    rmSync(join(p.src, 'tree'), { recursive: true });
    await waitForBucket(p.src, p.prefix, CONVERGE_MS, d);
  }));

  it('a file and a directory renamed: server-side copies, nothing sent again', withDaemon('rename', async (p, d) => {
    mkdirSync(join(p.src, 'docs/deep'), { recursive: true });
    for (let i = 0; i < 30; i++) writeFileSync(join(p.src, 'docs/deep', `page${i}.html`), `<p>${i}</p>`.repeat(50));
    writeFileSync(join(p.src, 'single.txt'), 'single');
    await waitForBucket(p.src, p.prefix, CONVERGE_MS, d);
    const puts = d.opCounts()['put'];
    renameSync(join(p.src, 'docs'), join(p.src, 'manual'));
    renameSync(join(p.src, 'single.txt'), join(p.src, 'renamed.txt'));
    await waitForBucket(p.src, p.prefix, CONVERGE_MS, d);
    assert.equal(d.opCounts()['put'], puts, `renames sent files again:\n${d.output.slice(-2000)}`);
    assert.ok((d.opCounts()['rename'] ?? 0) >= 2, d.output.slice(-2000));
  }));

  it('a file above the part size goes up in parts, with our fingerprint', withDaemon('multipart', async (p, d) => {
    const big = Buffer.alloc(11 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    writeFileSync(join(p.src, 'big.bin'), big);
    await waitForBucket(p.src, p.prefix, 60_000, d);
    const o = (await objects(p.prefix)).get('big.bin');
    assert.match(o?.etag ?? '', /-3$/, 'three parts of 5 MiB');
  }, { partSizeMiB: 5 }));
});

describe('e2e once, check and adoption: S3', { concurrency: 1 }, () => {
  it('once mirrors and exits 0; check is clean, then sees drift made behind our back', async (ctx) => {
    const srv = await swift();
    if (!srv) return ctx.skip('Swift not available');
    const p = prepare('check', srv);
    mkdirSync(join(p.src, 'dir'));
    mkdirSync(join(p.src, 'empty'));
    writeFileSync(join(p.src, 'dir', 'a.txt'), 'alpha');
    writeFileSync(join(p.src, 'b.txt'), 'bravo');
    const once = await runCli(['once', ...p.args]);
    assert.equal(once.code, 0, once.stdout + once.stderr);
    const clean = await runCli(['check', ...p.args]);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /in sync/);
    await client!.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${p.prefix}/dir/a.txt`, Body: 'alphA' }));
    await client!.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${p.prefix}/extra.txt`, Body: 'not ours' }));
    const drift = await runCli(['check', ...p.args]);
    assert.equal(drift.code, 1, drift.stdout + drift.stderr);
    assert.match(drift.stdout, /content +"dir\/a.txt"/, 'same size, other bytes: found by hash');
    assert.match(drift.stdout, /extra +"extra.txt"/);
  });

  it('a fresh state against a bucket that holds the files: adopted by fingerprint, nothing uploaded', async (ctx) => {
    const srv = await swift();
    if (!srv) return ctx.skip('Swift not available');
    const p = prepare('adopt', srv);
    // An hour old: files written just now are "racy" and would be compared by content.
    const old = new Date(Date.now() - 3_600_000);
    for (let i = 0; i < 10; i++) {
      writeFileSync(join(p.src, `f${i}.txt`), `file ${i}`);
      utimesSync(join(p.src, `f${i}.txt`), old, old);
    }
    const once = await runCli(['once', ...p.args]);
    assert.equal(once.code, 0, once.stdout + once.stderr);
    const fresh = [...p.args.slice(0, 2), '--state', join(work.path, `adopt-fresh-${n}.db`)];
    const again = await runCli(['once', '--debug', ...fresh]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout + again.stderr, /adopted 10 entries/);
    assert.doesNotMatch(again.stdout + again.stderr, /^\S+ put "/m, 'nothing was uploaded again');
  });
});

describe('e2e safety gates: S3', { concurrency: 1 }, () => {
  it('the source emptied while running: halted, nothing deleted in the bucket', async (ctx) => {
    const srv = await swift();
    if (!srv) return ctx.skip('Swift not available');
    const p = prepare('emptied', srv);
    mkdirSync(join(p.src, 'sub'));
    for (let i = 0; i < 10; i++) writeFileSync(join(p.src, i % 2 ? 'sub' : '', `f${i}`), `${i}`);
    const d = await Daemon.start(p.args);
    try {
      await waitForBucket(p.src, p.prefix, CONVERGE_MS, d);
      for (const name of readdirSync(p.src)) rmSync(join(p.src, name), { recursive: true });
      await d.waitFor(/halted, nothing deleted: the source folder is empty/, 20_000);
      await sleep(1_500);
      assert.equal((await objects(p.prefix)).size, 10, `objects were deleted:\n${d.output.slice(-2000)}`);
    } finally {
      await d.stop();
    }
  });

  it('more deletes than maxDelete: halted, nothing deleted; under the limit, deletes go through', async (ctx) => {
    const srv = await swift();
    if (!srv) return ctx.skip('Swift not available');
    const p = prepare('maxdelete', srv);
    writeFileSync(p.cfg, readFileSync(p.cfg, 'utf8').replace('    targets:', '    maxDelete: 3\n    targets:'));
    mkdirSync(join(p.src, 'many'));
    for (let i = 0; i < 8; i++) writeFileSync(join(p.src, 'many', `f${i}`), `${i}`);
    writeFileSync(join(p.src, 'stay'), 'stay');
    const d = await Daemon.start(p.args);
    try {
      await waitForBucket(p.src, p.prefix, CONVERGE_MS, d);
      rmSync(join(p.src, 'many', 'f0'));
      await waitForBucket(p.src, p.prefix, CONVERGE_MS, d);
      rmSync(join(p.src, 'many'), { recursive: true });
      await d.waitFor(/halted, nothing deleted: .*more than maxDelete 3/, 20_000);
      await sleep(1_000);
      assert.equal((await objects(p.prefix)).size, 8, `objects were deleted:\n${d.output.slice(-2000)}`);
    } finally {
      await d.stop();
    }
  });
});

describe('e2e faults: S3', { concurrency: 1 }, () => {
  it('wrong credentials: the target pauses with a clear error, no secret in the output, nothing written', async (ctx) => {
    const srv = await swift();
    if (!srv) return ctx.skip('Swift not available');
    const secret = 'wrong-secret-4f1c9e';
    const p = prepare('badcreds', srv, { secretAccessKey: secret });
    writeFileSync(join(p.src, 'f'), 'must not arrive');
    const d = await Daemon.start(p.args);
    try {
      await d.waitFor(/paused: .*(login|credentials|Signature)/i, 20_000);
      assert.ok(!d.output.includes(secret), 'the secret is never shown');
      assert.equal((await objects(p.prefix)).size, 0);
    } finally {
      await d.stop();
    }
  });

  it('an unreachable endpoint: the target is retrying, and converges once the endpoint is right', async (ctx) => {
    const srv = await swift();
    if (!srv) return ctx.skip('Swift not available');
    const p = prepare('unreachable', srv, { endpoint: `http://127.0.0.1:${await freePort()}` });
    writeFileSync(join(p.src, 'f'), 'queued');
    const d = await Daemon.start(p.args);
    try {
      await d.waitFor(/target unavailable: .*ECONNREFUSED/, 30_000);
      assert.doesNotMatch(d.output, /paused: /, 'a refused connection is retried, not paused');
    } finally {
      await d.stop();
    }
    // The same state and source, with the right endpoint: everything queued arrives.
    writeFileSync(p.cfg, readFileSync(p.cfg, 'utf8').replace(/endpoint: "[^"]*"/, `endpoint: ${JSON.stringify(srv.endpoint)}`));
    const once = await runCli(['once', ...p.args]);
    assert.equal(once.code, 0, once.stdout + once.stderr);
    await waitForBucket(p.src, p.prefix, CONVERGE_MS);
  });
});
