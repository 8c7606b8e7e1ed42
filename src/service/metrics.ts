/**
 * The Prometheus endpoint (`metrics:`, README: Metrics): GET /metrics in the text exposition
 * format, built with prom-client. Nothing is counted here: each scrape reads the same
 * per-target figures `status` shows (TargetSync.status(), through `read`), so the two never
 * disagree. Counters restart from zero when a reload rebuilds the engine (Prometheus' rate()
 * treats that as a counter reset). Its own registry, not prom-client's global one, so a
 * second server in the same process (tests) does not collide.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { formatListenAddress, type ListenAddress } from '../core/listen-address.ts';
import { ConfigError } from '../config/errors.ts';
import type { TargetState } from '../engine/target-sync.ts';
import type { TargetReport } from './status-report.ts';

export interface MetricsReader {
  /** Per sync and target: what `status` shows. */
  targets(): readonly TargetReport[];
  /** Per sync (source folder): inotify watches held; undefined when the watcher cannot tell. */
  watches(): readonly { source: string; watches: number | undefined }[];
}

export const TARGET_STATES: readonly TargetState[] = ['starting', 'ok', 'retrying', 'paused', 'halted', 'stopped'];

/** Builds the registry: prom-client's process metrics, and ours read at each scrape. */
export function metricsRegistry(read: MetricsReader): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const labelNames = ['sync', 'target'] as const;
  const perTarget = (set: (labels: { sync: string; target: string }, t: TargetReport) => void) => {
    for (const t of read.targets()) set({ sync: t.source, target: t.target }, t);
  };
  // The connection pool of network targets (Target.poolStats); a local folder has none.
  const pooled = (set: (labels: { sync: string; target: string }, c: NonNullable<TargetReport['connections']>) => void) =>
    perTarget((l, t) => {
      if (t.connections) set(l, t.connections);
    });
  // Metrics labelled by sync and target, read from `each` at every scrape. Counters whose value
  // is owned by the engine: reset, then set to the engine's figure.
  type Each<V> = (set: (labels: { sync: string; target: string }, v: V) => void) => void;
  const counterOf =
    <V>(each: Each<V>) =>
    (name: string, help: string, value: (v: V) => number) =>
      new Counter({
        name,
        help,
        labelNames,
        registers: [register],
        collect() {
          this.reset();
          each((l, v) => this.inc(l, value(v)));
        },
      });
  const gaugeOf =
    <V>(each: Each<V>) =>
    (name: string, help: string, value: (v: V) => number) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [register],
        collect() {
          this.reset();
          each((l, v) => this.set(l, value(v)));
        },
      });
  const counter = counterOf(perTarget);
  const gauge = gaugeOf(perTarget);
  const poolCounter = counterOf(pooled);
  const poolGauge = gaugeOf(pooled);
  counter('sync_inotify_files_sent_total', 'Files uploaded to the target since the daemon started (or was reloaded)', (t) => t.filesSent);
  counter('sync_inotify_bytes_sent_total', 'Bytes of files uploaded to the target since the daemon started', (t) => t.bytesSent);
  counter('sync_inotify_operations_total', 'Operations done on the target (put, mkdir, rename, remove, …) since the daemon started', (t) => t.opsDone);
  new Counter({
    name: 'sync_inotify_errors_total',
    help: 'Failed operations and target-wide failures, by error code (E_NAME, E_TIMEOUT, …)',
    labelNames: ['sync', 'target', 'code'] as const,
    registers: [register],
    collect() {
      this.reset();
      perTarget((l, t) => {
        for (const [code, n] of Object.entries(t.errors)) this.inc({ ...l, code }, n);
      });
    },
  });
  gauge('sync_inotify_queue_length', 'Changed paths waiting for the next batch', (t) => t.queued);
  gauge('sync_inotify_in_flight', 'Operations running now', (t) => t.inFlight);
  gauge('sync_inotify_lag_seconds', 'Age of the oldest change not yet on the target (0 when idle)', (t) => t.lagMs / 1000);
  gauge('sync_inotify_last_sync_timestamp_seconds', 'Unix time of the end of the last cycle that reached the target (0: none yet)', (t) => (t.lastSyncAt === undefined ? 0 : Date.parse(t.lastSyncAt) / 1000));
  new Gauge({
    name: 'sync_inotify_target_state',
    help: 'The state of the target: 1 for the state it is in, 0 for the others',
    labelNames: ['sync', 'target', 'state'] as const,
    registers: [register],
    collect() {
      this.reset();
      perTarget((l, t) => {
        for (const state of TARGET_STATES) this.set({ ...l, state }, t.state === state ? 1 : 0);
      });
    },
  });
  new Gauge({
    name: 'sync_inotify_connections',
    help: 'Connections to the target by state: busy (carrying operations), idle, opening',
    labelNames: ['sync', 'target', 'state'] as const,
    registers: [register],
    collect() {
      this.reset();
      pooled((l, c) => {
        this.set({ ...l, state: 'busy' }, c.busy);
        this.set({ ...l, state: 'idle' }, c.idle);
        this.set({ ...l, state: 'opening' }, c.opening);
      });
    },
  });
  poolGauge('sync_inotify_connections_limit', 'The most connections the pool opens now (lower than `connections` after the server refused more)', (c) => c.limit);
  poolGauge('sync_inotify_pool_waiting', 'Operations waiting for a connection', (c) => c.waiting);
  poolCounter('sync_inotify_reconnects_total', 'Connections opened to replace one that died', (c) => c.reconnects);
  poolCounter('sync_inotify_connect_failures_total', 'Connection attempts that failed', (c) => c.openFailures);
  new Gauge({
    name: 'sync_inotify_watches',
    help: 'inotify watches held on the source (one per watched directory)',
    labelNames: ['sync'] as const,
    registers: [register],
    collect() {
      this.reset();
      for (const w of read.watches()) if (w.watches !== undefined) this.set({ sync: w.source }, w.watches);
    },
  });
  return register;
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics at `address`; a port in use is a configuration error naming the key. */
export async function startMetricsServer(address: ListenAddress, read: MetricsReader): Promise<MetricsServer> {
  const register = metricsRegistry(read);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(path === '/' ? 'sync-inotify: metrics at /metrics\n' : 'not found: metrics are at /metrics\n');
      return;
    }
    register.metrics().then(
      (text) => res.writeHead(200, { 'content-type': register.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ConfigError(`metrics: cannot listen on ${formatListenAddress(address)} (${err.code ?? err.message}): ${err.code === 'EADDRINUSE' ? 'the port is in use; choose another one' : 'choose an address of this machine'}`)),
    );
    server.listen(address.port, address.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${formatListenAddress({ host: address.host, port })}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
