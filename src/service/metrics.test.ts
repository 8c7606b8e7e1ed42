/** The registry's text for given figures (the HTTP side is tested end to end: test/e2e/metrics.test.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TargetReport } from './status-report.ts';
import { metricsRegistry } from './metrics.ts';

const target = (t: Partial<TargetReport>): TargetReport => ({
  source: '/srv/www',
  target: 'sftp://deploy@web2/var/www',
  state: 'ok',
  queued: 0,
  inFlight: 0,
  filesSent: 0,
  bytesSent: 0,
  opsDone: 0,
  lagMs: 0,
  problems: 0,
  errors: {},
  ...t,
});

describe('metricsRegistry', () => {
  it('per target: counters, gauges, errors by code, one state gauge per state', async () => {
    let targets = [target({ state: 'retrying', queued: 7, inFlight: 2, lagMs: 1500, filesSent: 3, bytesSent: 3000, opsDone: 5, errors: { E_TIMEOUT: 2, E_NAME: 1 }, lastSyncAt: '2026-12-03T10:00:00.000Z' })];
    const register = metricsRegistry({ targets: () => targets, watches: () => [{ source: '/srv/www', watches: 12 }] });
    const text = await register.metrics();
    const labels = 'sync="/srv/www",target="sftp://deploy@web2/var/www"';
    for (const line of [
      `sync_inotify_files_sent_total{${labels}} 3`,
      `sync_inotify_bytes_sent_total{${labels}} 3000`,
      `sync_inotify_operations_total{${labels}} 5`,
      `sync_inotify_errors_total{${labels},code="E_TIMEOUT"} 2`,
      `sync_inotify_errors_total{${labels},code="E_NAME"} 1`,
      `sync_inotify_queue_length{${labels}} 7`,
      `sync_inotify_in_flight{${labels}} 2`,
      `sync_inotify_lag_seconds{${labels}} 1.5`,
      `sync_inotify_last_sync_timestamp_seconds{${labels}} ${Date.parse('2026-12-03T10:00:00.000Z') / 1000}`,
      `sync_inotify_target_state{${labels},state="retrying"} 1`,
      `sync_inotify_target_state{${labels},state="ok"} 0`,
      `sync_inotify_watches{sync="/srv/www"} 12`,
      '# TYPE sync_inotify_files_sent_total counter',
      '# TYPE sync_inotify_queue_length gauge',
    ]) {
      assert.ok(text.split('\n').includes(line), `missing: ${line}\n${text.split('\n').filter((l) => l.startsWith('sync_inotify')).join('\n')}`);
    }
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    // A later scrape reads the figures again (a reload restarts them: a counter reset).
    targets = [target({ filesSent: 1 })];
    const again = await register.metrics();
    assert.ok(again.includes(`sync_inotify_files_sent_total{${labels}} 1`));
    assert.ok(!again.includes('code="E_TIMEOUT"'), 'codes of an engine that is gone are not kept');
    assert.ok(again.includes(`sync_inotify_target_state{${labels},state="ok"} 1`));
  });

  it('connection pools: connections by state, limit, waiting, reconnects; nothing for a target without a pool', async () => {
    const connections = { limit: 4, idle: 1, busy: 2, opening: 1, running: 9, waiting: 3, opened: 6, reconnects: 2, openFailures: 5, retried: 1, timedOut: 0, paused: undefined };
    const register = metricsRegistry({ targets: () => [target({ connections }), target({ target: '/backup' })], watches: () => [] });
    const text = await register.metrics();
    const labels = 'sync="/srv/www",target="sftp://deploy@web2/var/www"';
    for (const line of [
      `sync_inotify_connections{${labels},state="busy"} 2`,
      `sync_inotify_connections{${labels},state="idle"} 1`,
      `sync_inotify_connections{${labels},state="opening"} 1`,
      `sync_inotify_connections_limit{${labels}} 4`,
      `sync_inotify_pool_waiting{${labels}} 3`,
      `sync_inotify_reconnects_total{${labels}} 2`,
      `sync_inotify_connect_failures_total{${labels}} 5`,
    ]) {
      assert.ok(text.split('\n').includes(line), `missing: ${line}`);
    }
    assert.doesNotMatch(text, /sync_inotify_(connections|pool_waiting|reconnects)[^\n]*target="\/backup"/, 'a local folder has no pool');
    assert.match(text, /sync_inotify_queue_length\{sync="\/srv\/www",target="\/backup"\} 0/);
  });
});
