/**
 * The instance a service command (stop, status, reload) talks about: from -c FILE or SOURCE
 * DEST like the other commands, or, with neither, the default instance `sync-inotify`.
 */
import type { ConfigFile } from '../config/schema.ts';
import { instancePaths, type InstancePaths } from '../service/paths.ts';
import { isAlive } from '../service/pid-file.ts';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../config/errors.ts';
import { legacyName, looksLikeLegacy, parseLegacyValues } from '../config/legacy.ts';
import { resolveConfig, type CommonOptions } from './context.ts';

export function instanceFor(source: string | undefined, dest: string | undefined, opts: CommonOptions, lenient = true): { config: ConfigFile; paths: InstancePaths } {
  let config: ConfigFile;
  if (opts.config === undefined && source === undefined) config = { syncs: [] };
  else {
    try {
      config = resolveConfig(source, dest, opts);
    } catch (err) {
      // A broken file must not keep the operator from stopping or asking the running daemon.
      const identity = lenient && opts.config !== undefined && err instanceof ConfigError ? identityOf(opts.config) : undefined;
      if (identity === undefined) throw err;
      complain(`${(err as Error).message.split('\n')[0]} (using the instance name ${identity.name ?? 'sync-inotify'} from it)`);
      config = identity;
    }
  }
  return { config, paths: instancePaths(config, opts.state) };
}

/** Only what names an instance (name, pid file, state, log), read leniently from a file that does not validate. */
function identityOf(file: string): ConfigFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const base = dirname(resolve(file));
  if (looksLikeLegacy(text)) {
    let pidFile: string | undefined;
    let log: string | undefined;
    try {
      const v = parseLegacyValues(text, file);
      const p = v.get('PID_FILE');
      if (typeof p === 'string' && p.trim() !== '') pidFile = resolve(base, p);
      const l = v.get('LOG_FILE');
      log = l === null ? 'terminal' : typeof l === 'string' && l.trim() !== '' ? resolve(base, l) + (l.endsWith('/') ? '/' : '') : undefined;
    } catch {
      // the name alone
    }
    return { name: legacyName(file), ...(pidFile !== undefined ? { pidFile } : {}), ...(log !== undefined ? { log } : {}), syncs: [] };
  }
  let raw: unknown;
  try {
    raw = parseDocument(text).toJS();
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  const str = (k: string) => (typeof r[k] === 'string' ? (r[k] as string) : undefined);
  const name = str('name');
  if (name !== undefined && !/^[A-Za-z0-9._-]+$/.test(name)) return undefined;
  const pidFile = str('pidFile');
  const state = str('state');
  const log = str('log');
  return {
    ...(name !== undefined ? { name } : {}),
    ...(pidFile !== undefined ? { pidFile: resolve(base, pidFile) } : {}),
    ...(state !== undefined ? { state: resolve(base, state) } : {}),
    ...(log !== undefined ? { log: log === 'terminal' ? log : resolve(base, log) + (log.endsWith('/') ? '/' : '') } : {}),
    syncs: [],
  };
}

/** Gone: no such process, or a zombie waiting to be reaped. */
export function isGone(pid: number): boolean {
  if (!isAlive(pid)) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function say(line: string): void {
  process.stdout.write(line + '\n');
}

export function complain(line: string): void {
  process.stderr.write(`sync-inotify: ${line}\n`);
}
