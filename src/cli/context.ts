/**
 * What every command needs: the configuration (from -c FILE or SOURCE DEST), the state file
 * and a logger.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../config/errors.ts';
import { DEFAULT_NAME, loadConfigFile } from '../config/load.ts';
import type { ConfigFile } from '../config/schema.ts';
import { defaultStatePath } from '../engine/paths-config.ts';

export interface CommonOptions {
  config?: string;
  state?: string;
  debug?: boolean;
  /** Quick-form target settings. */
  connections?: string;
  exclude?: string[];
}

export function resolveConfig(source: string | undefined, dest: string | undefined, opts: CommonOptions): ConfigFile {
  if (opts.config !== undefined) {
    if (source !== undefined) throw new ConfigError('give either -c FILE or SOURCE DEST, not both');
    return loadConfigFile(opts.config);
  }
  if (source === undefined || dest === undefined) {
    throw new ConfigError('missing arguments: give SOURCE DEST (e.g. sync-inotify run ./site ./mirror) or -c FILE');
  }
  const connections = opts.connections === undefined ? undefined : Number(opts.connections);
  if (connections !== undefined && !(Number.isInteger(connections) && connections > 0 && connections <= 64)) {
    throw new ConfigError('--connections must be a whole number from 1 to 64');
  }
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(dest);
  return {
    syncs: [
      {
        source: resolve(source),
        ...(opts.exclude && opts.exclude.length > 0 ? { exclude: opts.exclude } : {}),
        targets: [{ url: isUrl ? dest : resolve(dest), ...(connections !== undefined ? { connections } : {}) }],
      },
    ],
  };
}

export function statePathFor(config: ConfigFile, opts: CommonOptions): string {
  if (opts.state !== undefined) return resolve(opts.state);
  if (config.state !== undefined) return config.state;
  return defaultStatePath(config.name ?? DEFAULT_NAME);
}
