/**
 * An SFTP target's settings from its URL and options: host, port, user, the remote root, and
 * the defaults (see backend.ts, which declares the keys).
 *
 * URL: sftp://[user@]host[:port]/absolute/path. `sftp://host` or `sftp://host/` is the login
 * directory, `sftp://host/~/dir` a directory below it. The user defaults to the local user.
 */
import { userInfo } from 'node:os';
import { TargetError } from '../errors.ts';
import { decodeUrlPart } from '../secrets.ts';
import type { SftpSpec } from './options.ts';

export const SFTP_DEFAULTS = {
  connections: 4,
  timeoutMs: 30_000,
  /** Operations in flight per connection before callers queue. */
  opsPerConnection: 16,
  /** Bytes of WRITE requests in flight per upload (fastPut uses 64 × 32 KiB = 2 MiB). */
  writeWindow: 4 * 1024 * 1024,
} as const;

export interface SftpTargetOptions {
  readonly spec: SftpSpec;
  readonly url: URL;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** Absolute remote directory, or relative to the login directory ('' = the login directory). */
  readonly root: string;
  readonly connections: number;
  readonly timeoutMs: number;
}

/** The settings of the target at `url`; a URL without a host is E_CONFIG. */
export function sftpSettings(spec: SftpSpec, url: URL): SftpTargetOptions {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new TargetError('E_CONFIG', `target ${redactUrl(url)}: no host: write sftp://user@host[:port]/path`);
  const port = url.port === '' ? 22 : Number(url.port);
  // Validated (and defaulted) by the registry from the declaration in backend.ts.
  return {
    spec,
    url,
    host,
    port,
    username: url.username === '' ? userInfo().username : decodeUrlPart(url.username),
    root: rootOf(url),
    connections: spec.connections ?? SFTP_DEFAULTS.connections,
    timeoutMs: spec.timeoutMs ?? SFTP_DEFAULTS.timeoutMs,
  };
}

/** Remote root from the URL path: absolute, or relative to the login directory ('' = it). */
function rootOf(url: URL): string {
  const path = decodeURIComponent(url.pathname).replace(/\/+$/, '');
  if (path === '' || path === '/~') return '';
  if (path.startsWith('/~/')) return path.slice(3);
  return path;
}

function redactUrl(url: URL): string {
  const user = url.username === '' ? '' : `${url.username}@`;
  return `${url.protocol}//${user}${url.host}${url.pathname}`;
}
