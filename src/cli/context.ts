/**
 * What every command needs: the configuration (from -c FILE or SOURCE DEST), the state file
 * and a logger. -c FILE is either the YAML configuration or the original script's settings
 * file (`KEY = 'value'` lines; see config/legacy.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/errors.ts';
import { parseBwlimit } from '../core/bwlimit.ts';
import { legacyToConfig, looksLikeLegacy } from '../config/legacy.ts';
import { DEFAULT_NAME, loadConfigFile } from '../config/load.ts';
import type { ConfigFile } from '../config/schema.ts';
import { defaultStatePath } from '../engine/paths-config.ts';

export { secretsOf } from '../config/secrets.ts';

export interface CommonOptions {
  config?: string;
  state?: string;
  debug?: boolean;
  /** Quick-form target settings. */
  connections?: string;
  bwlimit?: string;
  exclude?: string[];
  /** Replace every target of the configuration with this one (try a config on a local folder). */
  target?: string;
}

function readConfig(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (looksLikeLegacy(text)) return legacyToConfig(text, file);
  const config = loadConfigFile(file);
  // `log` and `pidFile` are relative to the file too (the daemon runs from /).
  const base = dirname(resolve(file));
  return {
    ...config,
    ...(config.pidFile !== undefined ? { pidFile: resolve(base, config.pidFile) } : {}),
    ...(config.log !== undefined && config.log !== 'terminal' ? { log: resolve(base, config.log) + (config.log.endsWith('/') ? '/' : '') } : {}),
  };
}

export function resolveConfig(source: string | undefined, dest: string | undefined, opts: CommonOptions): ConfigFile {
  if (opts.config !== undefined) {
    if (source !== undefined) throw new ConfigError('give either -c FILE or SOURCE DEST, not both');
    const config = readConfig(opts.config);
    if (opts.target === undefined) return config;
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(opts.target) ? opts.target : resolve(opts.target);
    return { ...config, syncs: config.syncs.map((s) => ({ ...s, targets: [{ url }] })) };
  }
  if (opts.target !== undefined) throw new ConfigError('--target replaces the targets of a config file: use it with -c FILE');
  if (source === undefined || dest === undefined) {
    throw new ConfigError('missing arguments: give SOURCE DEST (e.g. sync-inotify run ./site ./mirror) or -c FILE');
  }
  const connections = opts.connections === undefined ? undefined : Number(opts.connections);
  if (connections !== undefined && !(Number.isInteger(connections) && connections > 0 && connections <= 64)) {
    throw new ConfigError('--connections must be a whole number from 1 to 64');
  }
  const bw = opts.bwlimit === undefined ? undefined : parseBwlimit(opts.bwlimit);
  if (bw && !bw.ok) throw new ConfigError(`--bwlimit: ${bw.message}`);
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(dest);
  return {
    syncs: [
      {
        source: resolve(source),
        ...(opts.exclude && opts.exclude.length > 0 ? { exclude: opts.exclude } : {}),
        targets: [{ url: isUrl ? dest : resolve(dest), ...(connections !== undefined ? { connections } : {}), ...(opts.bwlimit !== undefined ? { bwlimit: opts.bwlimit } : {}) }],
      },
    ],
  };
}

export function statePathFor(config: ConfigFile, opts: CommonOptions): string {
  if (opts.state !== undefined) return resolve(opts.state);
  if (config.state !== undefined) return config.state;
  return defaultStatePath(config.name ?? DEFAULT_NAME);
}
