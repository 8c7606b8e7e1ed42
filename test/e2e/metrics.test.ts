/**
 * The Prometheus endpoint of a running daemon (README: Metrics): scraped over HTTP from the
 * real CLI, before and after files are written; a bad `metrics:` value is refused at start.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../servers/net.ts';
import { Daemon, runCli, sleep, tempDir } from './harness.ts';

/** The value of one sample line `name{labels} value`, matched by name and label text. */
function sample(text: string, name: string, labels: RegExp = /.*/): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && labels.test(m[2] ?? '')) return Number(m[3]);
  }
  return undefined;
}

async function scrape(url: string): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

describe('e2e: metrics', { concurrency: 1 }, () => {
  it('serves /metrics from a running daemon; the counters move with the work and the state reads ok', async () => {
    const dir = tempDir('metrics');
    const src = join(dir.path, 'src');
    const dst = join(dir.path, 'dst');
    mkdirSync(src);
    mkdirSync(dst);
    writeFileSync(join(src, 'first.txt'), 'one');
    const port = await freePort();
    const cfg = join(dir.path, 'site.yaml');
    writeFileSync(cfg, `metrics: 127.0.0.1:${port}\nstate: ${join(dir.path, 'state.db')}\nsyncs:\n  - source: ${src}\n    targets:\n      - url: ${dst}\n`);
    const daemon = await Daemon.start(['-c', cfg]);
    try {
      await daemon.waitFor(/put "first.txt"/, 20_000);
      const url = `http://127.0.0.1:${port}/metrics`;
      const target = new RegExp(`target="${dst.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`);
      // The first push's record is committed within 50 ms of the upload.
      let before = await scrape(url);
      for (let i = 0; i < 50 && sample(before.text, 'sync_inotify_files_sent_total', target) !== 1; i++) {
        await sleep(100);
        before = await scrape(url);
      }
      assert.equal(before.status, 200);
      assert.match(before.type, /^text\/plain; version=0\.0\.4/);
      assert.equal(sample(before.text, 'sync_inotify_files_sent_total', target), 1, before.text);
      assert.equal(sample(before.text, 'sync_inotify_bytes_sent_total', target), 3);
      assert.equal(sample(before.text, 'sync_inotify_target_state', /state="ok"/), 1);
      assert.equal(sample(before.text, 'sync_inotify_target_state', /state="retrying"/), 0);
      assert.equal(sample(before.text, 'sync_inotify_watches'), 1, 'one directory watched');
      assert.ok((sample(before.text, 'sync_inotify_last_sync_timestamp_seconds', target) ?? 0) > Date.now() / 1000 - 60);
      assert.ok(sample(before.text, 'process_resident_memory_bytes') !== undefined, 'prom-client process metrics');
      assert.ok(sample(before.text, 'nodejs_eventloop_lag_seconds') !== undefined);
      const opsBefore = sample(before.text, 'sync_inotify_operations_total', target)!;

      mkdirSync(join(src, 'sub'));
      for (let i = 0; i < 5; i++) writeFileSync(join(src, 'sub', `f${i}.bin`), Buffer.alloc(1000, i));
      let after = before;
      for (let i = 0; i < 100 && sample(after.text, 'sync_inotify_files_sent_total', target) !== 6; i++) {
        await sleep(100);
        after = await scrape(url);
      }
      assert.equal(sample(after.text, 'sync_inotify_files_sent_total', target), 6, after.text);
      assert.equal(sample(after.text, 'sync_inotify_bytes_sent_total', target), 5003);
      assert.ok(sample(after.text, 'sync_inotify_operations_total', target)! >= opsBefore + 6, 'a mkdir and five puts');
      assert.equal(sample(after.text, 'sync_inotify_watches'), 2, 'the new directory is watched');
      assert.equal(sample(after.text, 'sync_inotify_target_state', /state="ok"/), 1);
      assert.equal(sample(after.text, 'sync_inotify_queue_length', target), 0);
      assert.equal(sample(after.text, 'sync_inotify_in_flight', target), 0);
      assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);
    } finally {
      await daemon.stop();
      dir.cleanup();
    }
  });

  it('a bad metrics address is refused at start with the key and the fix', async () => {
    const dir = tempDir('metrics-bad');
    const cfg = join(dir.path, 'site.yaml');
    mkdirSync(join(dir.path, 'src'));
    writeFileSync(cfg, `metrics: "localhost"\nsyncs:\n  - source: ${join(dir.path, 'src')}\n    targets:\n      - url: ${join(dir.path, 'dst')}\n`);
    try {
      const r = await runCli(['run', '-c', cfg, '--state', join(dir.path, 's.db')]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /metrics: "localhost" is not host:port; give a port \(9464\), host:port/);
    } finally {
      dir.cleanup();
    }
  });
});
