/**
 * FTP target settings: the URL and FtpSpec keys, validated once, turned into what a
 * connection needs. Errors are E_CONFIG and name the key to fix; the password is never in them.
 */
import { trustedCas } from '../trusted-cas.ts';
import { createSecureContext, type ConnectionOptions } from 'node:tls';
import { TargetError } from '../errors.ts';
import { resolvePassword } from '../secrets.ts';
import type { FtpSpec } from './options.ts';

export type FtpTlsMode = 'none' | 'explicit' | 'implicit';

export interface FtpSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Absolute remote directory of the target root, as the server shows it after login. */
  readonly root: string;
  readonly tls: FtpTlsMode;
  /** Options for tls.connect (control and data connections). */
  readonly secureOptions: ConnectionOptions;
  readonly insecure: boolean;
  /** Pool size: parallel sessions, one operation each. */
  readonly connections: number;
  /** basic-ftp's inactivity timeout; operation deadlines are derived from it. */
  readonly timeoutMs: number;
  /** URL without the password: for logs, errors and status. */
  readonly displayName: string;
}

export const DEFAULT_CONNECTIONS = 4;
export const DEFAULT_TIMEOUT_MS = 30_000;

function configError(url: URL, message: string): TargetError {
  return new TargetError('E_CONFIG', `target ${displayUrl(url, '/')}: ${message}`);
}

function displayUrl(url: URL, root: string): string {
  const user = url.username === '' ? '' : `${url.username}@`;
  const port = url.port === '' ? '' : `:${url.port}`;
  return `${url.protocol}//${user}${url.hostname}${port}${root === '/' ? '' : encodeURI(root)}`;
}

function decodeSegment(url: URL, segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw configError(url, `path segment "${segment}" is not valid percent-encoding`);
  }
}

/**
 * The URL path is the remote directory as the server shows it after login (its PWD view, so
 * on a chrooting server "/" is the user's home). Percent-escapes are decoded per segment;
 * "." and ".." are refused so the root is unambiguous.
 */
export function rootFromUrl(url: URL): string {
  const segments = url.pathname.split('/').filter((s) => s !== '').map((s) => decodeSegment(url, s));
  for (const seg of segments) {
    if (seg === '.' || seg === '..' || seg.includes('/') || /[\r\n\0]/.test(seg)) {
      throw configError(url, `remote path segment ${JSON.stringify(seg)} is not allowed: write the directory as an absolute path`);
    }
  }
  return '/' + segments.join('/');
}

export function ftpSettings(spec: FtpSpec, url: URL): FtpSettings {
  if (url.hostname === '') throw configError(url, 'no host: write ftp://user@host[:port]/path');
  if (url.search !== '' || url.hash !== '') throw configError(url, 'query strings and fragments are not allowed in an FTP URL');

  const isFtps = url.protocol === 'ftps:';
  const tls: FtpTlsMode = spec.tls ?? (isFtps ? 'explicit' : 'none');
  if (isFtps && tls === 'none') throw configError(url, 'ftps:// with `tls: none` is contradictory: use ftp:// for plain FTP');
  if (tls === 'none' && (spec.ca !== undefined || spec.insecure !== undefined)) {
    throw configError(url, '`ca` and `insecure` apply only with TLS: use ftps:// or set `tls: explicit`');
  }
  // Validated (and defaulted) by the registry from the declaration in backend.ts.
  const connections = spec.connections ?? DEFAULT_CONNECTIONS;
  const timeoutMs = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  const root = rootFromUrl(url);
  const user = url.username === '' ? 'anonymous' : decodeSegment(url, url.username);
  const password = resolvePassword(spec, url) ?? (user === 'anonymous' ? 'anonymous@' : '');
  if (/[\r\n]/.test(user) || /[\r\n]/.test(password)) throw configError(url, 'the user or password contains a line break, which FTP cannot send');

  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const insecure = spec.insecure === true;
  const secureOptions: ConnectionOptions = { host, rejectUnauthorized: !insecure };
  // One SecureContext for every control and data connection: building one (more so from ~140
  // roots plus a custom CA) costs milliseconds of CPU, paid per file otherwise, and that delay
  // made vsftpd fail empty uploads more often (see tls-empty-upload.ts). Node's `ca` replaces
  // the default roots; the setting means "also trust this CA", so the roots are added back.
  if (tls !== 'none') {
    const ca = trustedCas(spec.ca, (message) => configError(url, message));
    try {
      secureOptions.secureContext = createSecureContext(ca ? { ca } : {});
    } catch (err) {
      throw configError(url, `ca file ${String(spec.ca)} is not a valid PEM certificate (${(err as Error).message})`);
    }
  }
  // A host name (not an IP) is sent as SNI; Node refuses SNI for IP literals.
  if (!/^[\d.]+$/.test(host) && !host.includes(':')) secureOptions.servername = host;

  const port = url.port === '' ? (tls === 'implicit' ? 990 : 21) : Number(url.port);
  return {
    host,
    port,
    user,
    password,
    root,
    tls,
    secureOptions,
    insecure,
    connections,
    timeoutMs,
    displayName: displayUrl(url, root),
  };
}
