/**
 * systemd's notify protocol for a `run` under a `Type=notify` unit (deploy/sync-inotify@.service,
 * README "Running as a service"): READY=1 once the start's reconcile has ended on every target,
 * WATCHDOG=1 every half WatchdogSec while the event loop runs, STATUS= with the figures of
 * `status` (formatStatusLine), STOPPING=1 at shutdown. Nothing happens without NOTIFY_SOCKET.
 *
 * The messages are sent by spawning `systemd-notify` (part of the systemd package itself, so
 * it is there wherever a unit runs us): Node has no unix datagram sockets, and the npm
 * packages that add one (sd-notify, unix-dgram) are native addons, to be compiled for every
 * Node ABI we support. Because the sender is a child process, the unit says NotifyAccess=all.
 * systemd-notify waits until systemd has read the message (its barrier, systemd ≥ 246), so a
 * message is not lost when the helper exits before systemd looks up where it came from.
 * At most one systemd-notify runs at a time; what is asked meanwhile is merged into the next.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../log/logger.ts';

export interface NotifySettings {
  /** NOTIFY_SOCKET is set: systemd listens. */
  readonly enabled: boolean;
  /** Interval of WATCHDOG=1 pings in ms (half of WATCHDOG_USEC), when the watchdog is ours. */
  readonly watchdogMs?: number;
}

/** Reads what systemd passed in the environment (pure: the environment is an argument). */
export function notifySettings(env: NodeJS.ProcessEnv, pid: number): NotifySettings {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return { enabled: false };
  const usec = Number(env.WATCHDOG_USEC);
  // WATCHDOG_PID names the process the watchdog is meant for; another one is not us.
  const forUs = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === '' || Number(env.WATCHDOG_PID) === pid;
  if (!Number.isFinite(usec) || usec <= 0 || !forUs) return { enabled: true };
  return { enabled: true, watchdogMs: Math.max(1, Math.floor(usec / 2 / 1000)) };
}

/** How often STATUS= is refreshed (sent only when it changed). */
const STATUS_EVERY_MS = 5_000;
/** A systemd-notify that has not finished by then is killed (systemd did not answer). */
const SEND_TIMEOUT_MS = 10_000;

export class SystemdNotifier {
  private pending: Map<string, string> | undefined;
  /** The running drain() (one systemd-notify at a time), if any. */
  private draining: Promise<void> | undefined;
  private broken = false;
  private lastStatus: string | undefined;
  private timers: NodeJS.Timeout[] = [];
  private isReady = false;
  private stopped = false;

  constructor(
    private readonly settings: NotifySettings,
    private readonly logger: Logger,
    private readonly command = 'systemd-notify',
  ) {}

  get enabled(): boolean {
    return this.settings.enabled && !this.broken;
  }

  /**
   * The daemon runs: watchdog pings (from now on, so that a long first push is not taken for
   * a hang) and STATUS= refreshes begin; READY=1 follows with ready().
   */
  start(status: () => string): void {
    if (!this.settings.enabled) return;
    this.lastStatus = `starting: first reconcile; ${status()}`;
    this.send({ STATUS: this.lastStatus });
    if (this.settings.watchdogMs !== undefined) {
      this.logger.debug(`systemd watchdog: a ping every ${this.settings.watchdogMs} ms`);
      this.timers.push(setInterval(() => this.send({ WATCHDOG: '1' }), this.settings.watchdogMs).unref());
    }
    this.timers.push(
      setInterval(() => {
        const now = this.isReady ? status() : `starting: first reconcile; ${status()}`;
        if (now !== this.lastStatus) this.send({ STATUS: (this.lastStatus = now) });
      }, STATUS_EVERY_MS).unref(),
    );
  }

  /** The start's reconcile has ended on every target: READY=1, with the STATUS= of then. */
  ready(status: () => string): void {
    if (!this.settings.enabled || this.isReady || this.stopped) return;
    this.isReady = true;
    this.send({ READY: '1', STATUS: (this.lastStatus = status()) });
  }

  /** Reloading the configuration (SIGHUP), then ready again. */
  reloading(): void {
    this.send({ RELOADING: '1' });
  }

  reloaded(): void {
    if (this.isReady) this.send({ READY: '1' });
  }

  /**
   * Shutting down: no more pings (systemd now waits for the exit, up to TimeoutStopSec).
   * Resolves once STOPPING=1 is sent (or could not be): wait for it before exiting, or the
   * helper still queued behind a ping is never started.
   */
  stopping(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.send({ STOPPING: '1', STATUS: 'stopping: finishing operations in flight' });
    return this.draining ?? Promise.resolve();
  }

  private send(fields: Record<string, string>): void {
    if (!this.enabled) return;
    this.pending = new Map([...(this.pending ?? []), ...Object.entries(fields)]);
    // (pending is set and the notifier works, so drain() awaits before it clears `draining`.)
    if (this.draining === undefined) this.draining = this.drain();
  }

  /** Sends what is pending, one systemd-notify at a time, until nothing is. */
  private async drain(): Promise<void> {
    try {
      while (this.pending !== undefined && !this.broken) {
        const fields = this.pending;
        this.pending = undefined;
        await this.run([...fields].map(([k, v]) => `${k}=${v.replace(/[\r\n]+/g, ' ')}`));
      }
    } finally {
      // In the same step as the last look at `pending`: a send() after it starts a new drain.
      this.draining = undefined;
    }
  }

  private run(args: string[]): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn(this.command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), SEND_TIMEOUT_MS);
      child.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // Without systemd-notify nothing can be said to systemd; say so once, not per ping.
        this.broken = true;
        this.logger.error(`systemd: cannot run ${this.command} (${err.code ?? err.message}): a Type=notify unit will not see this service ready; install systemd's systemd-notify or use Type=simple`);
        resolve();
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) this.logger.warn(`systemd: ${this.command} ${args.join(' ')} failed (exit ${code}${stderr.trim() ? `: ${stderr.trim()}` : ''})`);
        resolve();
      });
    });
  }
}
