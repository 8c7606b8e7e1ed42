/**
 * Where an instance keeps its pid file, control socket, logs and state. As root the original
 * script's places (`/var/run/<name>.pid`, `/var/log/<name>/daily.log`); otherwise the XDG
 * runtime and state folders of the user, and `notes` says so (printed at start).
 */
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_NAME } from '../config/load.ts';
import type { ConfigFile } from '../config/schema.ts';
import { defaultStatePath, isRoot } from '../engine/paths-config.ts';
import type { LogSettings } from '../log/output.ts';

export interface InstancePaths {
  readonly name: string;
  readonly pidFile: string;
  /** The control socket: next to the pid file, mode 0600. */
  readonly socket: string;
  readonly statePath: string;
  /** `…/daily.log`, or undefined when the config says `log: terminal`. */
  readonly logFile: string | undefined;
  /** Lines to show at start when a default had to fall back to the user's folders. */
  readonly notes: string[];
}

export const TERMINAL = 'terminal';

function xdgState(): string {
  return process.env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
}

function runtimeDir(): { dir: string; fallback: boolean } {
  const xdg = process.env['XDG_RUNTIME_DIR'];
  if (xdg && existsSync(xdg)) return { dir: join(xdg, 'sync-inotify'), fallback: false };
  return { dir: join(xdgState(), 'sync-inotify', 'run'), fallback: true };
}

/** `log:` → the log file path: a folder (trailing slash or existing folder) gets `daily.log`. */
export function logFileFrom(log: string): string {
  const p = resolve(log);
  if (log.endsWith('/')) return join(p, 'daily.log');
  try {
    if (statSync(p).isDirectory()) return join(p, 'daily.log');
  } catch {
    // not there yet: a file name
  }
  return p;
}

export function instanceName(config: ConfigFile): string {
  return config.name ?? DEFAULT_NAME;
}

export function instancePaths(config: ConfigFile, stateOverride?: string): InstancePaths {
  const name = instanceName(config);
  const root = isRoot();
  const notes: string[] = [];
  let pidFile: string;
  if (config.pidFile !== undefined) pidFile = resolve(config.pidFile);
  else if (root) pidFile = `/var/run/${name}.pid`;
  else {
    const rt = runtimeDir();
    pidFile = join(rt.dir, `${name}.pid`);
    notes.push(`not root: pid file and control socket in ${rt.dir}${rt.fallback ? ' (no XDG_RUNTIME_DIR)' : ''} instead of /var/run`);
  }
  const socket = pidFile.endsWith('.pid') ? `${pidFile.slice(0, -4)}.sock` : `${pidFile}.sock`;
  let logFile: string | undefined;
  if (config.log === TERMINAL) logFile = undefined;
  else if (config.log !== undefined) logFile = logFileFrom(config.log);
  else if (root) logFile = `/var/log/${name}/daily.log`;
  else {
    logFile = join(xdgState(), 'sync-inotify', 'log', name, 'daily.log');
    notes.push(`not root: logs in ${join(xdgState(), 'sync-inotify', 'log', name)} instead of /var/log/${name}`);
  }
  const statePath = stateOverride !== undefined ? resolve(stateOverride) : (config.state ?? defaultStatePath(name));
  if (!root && stateOverride === undefined && config.state === undefined) notes.push(`not root: state in ${statePath} instead of /var/lib/sync-inotify`);
  return { name, pidFile, socket, statePath, logFile, notes };
}

/** The log settings for this instance: the daemon writes files, `run` the terminal. */
export function logSettings(config: ConfigFile, paths: InstancePaths, mode: 'foreground' | 'daemon', debugFlag: boolean): LogSettings {
  const debug = debugFlag || config.debug === true;
  if (mode === 'daemon') return paths.logFile === undefined ? { terminal: true, debug } : { terminal: false, file: paths.logFile, debug };
  // Foreground (`run`, systemd): the terminal/journal, plus a file only when one is named.
  const explicitFile = config.log !== undefined && config.log !== TERMINAL ? paths.logFile : undefined;
  return explicitFile === undefined ? { terminal: true, debug } : { terminal: true, file: explicitFile, debug };
}
