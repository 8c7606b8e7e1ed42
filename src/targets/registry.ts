/**
 * Maps a target URL to its backend. Each backend registers one factory per scheme; a plain
 * path (no scheme) is a local folder.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TargetError, redactSecrets } from './errors.ts';
import type { TargetSpec } from './spec.ts';
import type { Target } from './target.ts';
import { createLocalTarget } from './local/local-target.ts';
import { createFtpTarget } from './ftp/ftp-target.ts';
import { createSftpTarget } from './sftp/sftp-target.ts';
import { createWebdavTarget } from './webdav/webdav-target.ts';

export type TargetFactory = (spec: TargetSpec, url: URL) => Target;

const FACTORIES: Record<string, TargetFactory> = {
  'file:': createLocalTarget,
  'ftp:': createFtpTarget,
  'ftps:': createFtpTarget,
  'sftp:': createSftpTarget,
  'scp:': createSftpTarget,
  'webdav:': createWebdavTarget,
  'webdavs:': createWebdavTarget,
  // http(s):// is WebDAV only with `type: webdav` (the factory says so otherwise).
  'http:': createWebdavTarget,
  'https:': createWebdavTarget,
};

/** Parse a target URL; a bare path becomes file:// (relative paths against the cwd). */
export function parseTargetUrl(raw: string): URL {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    return pathToFileURL(resolve(raw));
  }
  try {
    return new URL(raw);
  } catch {
    throw new TargetError('E_CONFIG', `target url ${redactSecrets(raw)} is not a valid URL: write it as scheme://user@host:port/path or a plain folder path`);
  }
}

export function supportedSchemes(): string[] {
  return Object.keys(FACTORIES).map((s) => s.slice(0, -1));
}

export function createTarget(spec: TargetSpec): Target {
  const url = parseTargetUrl(spec.url);
  const factory = FACTORIES[url.protocol];
  if (factory === undefined) {
    throw new TargetError('E_CONFIG', `target url scheme ${url.protocol}// is not supported: use one of ${supportedSchemes().map((s) => s + '://').join(', ')} or a plain folder path`);
  }
  return factory(spec, url);
}
