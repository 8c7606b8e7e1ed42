/**
 * Builds an rsync target from its settings: which transport the URL names, its secrets, and
 * the keys that do not fit that transport (refused with the key and the fix).
 */
import { TargetError, redactUrl } from '../errors.ts';
import { decodeUrlPart, resolvePassword } from '../secrets.ts';
import type { Target } from '../target.ts';
import type { RsyncSpec } from './options.ts';
import { RsyncTarget } from './rsync-target.ts';
import { daemonTransport, sshTransport } from './transport.ts';

export const RSYNC_DEFAULTS = { timeoutMs: 30_000 } as const;

const SSH_ONLY = ['identityFile', 'knownHosts', 'hostKey', 'shell'] as const;

export function createRsyncTarget(spec: RsyncSpec, url: URL): Target {
  const where = `target ${redactUrl(spec.url)}`;
  const timeoutMs = spec.timeoutMs ?? RSYNC_DEFAULTS.timeoutMs;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new TargetError('E_CONFIG', `${where}: the URL has no host: write ${url.protocol}//user@host:port/…`);
  const user = decodeUrlPart(url.username);
  const path = decodeURIComponent(url.pathname);
  if (url.protocol === 'rsync:') {
    for (const key of SSH_ONLY) {
      if (spec[key] !== undefined) throw new TargetError('E_CONFIG', `${where}: key "${key}" applies to rsync+ssh:// only (an rsync daemon has no SSH): remove it, or use rsync+ssh://`);
    }
    const modulePath = path.replace(/^\/+|\/+$/g, '');
    if (modulePath === '') throw new TargetError('E_CONFIG', `${where}: the URL names no module: write rsync://user@host:port/MODULE/path`);
    const password = resolvePassword(spec, url) ?? nonEmpty(process.env['RSYNC_PASSWORD']);
    return new RsyncTarget({
      url: spec.url,
      timeoutMs,
      transport: () => daemonTransport({ host, port: url.port === '' ? 873 : Number(url.port), user, password, path: modulePath, timeoutMs }),
    });
  }
  for (const key of ['password', 'passwordFile'] as const) {
    if (spec[key] !== undefined) throw new TargetError('E_CONFIG', `${where}: key "${key}" applies to rsync:// (a daemon) only: rsync over SSH logs in with a key (identityFile), never a password prompt`);
  }
  if (url.password !== '') throw new TargetError('E_CONFIG', `${where}: a password in an rsync+ssh:// URL cannot be used: log in with a key (identityFile)`);
  if (path === '' || path === '/') throw new TargetError('E_CONFIG', `${where}: the URL names no folder: write rsync+ssh://user@host:port/path/to/folder`);
  return new RsyncTarget({
    url: spec.url,
    timeoutMs,
    transport: (runner) =>
      sshTransport({ host, port: url.port === '' ? 22 : Number(url.port), user, path, identityFile: spec.identityFile, knownHosts: spec.knownHosts, hostKey: spec.hostKey, timeoutMs, shell: spec.shell !== false }, runner),
  });
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
