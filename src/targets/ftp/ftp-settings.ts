/**
 * FTP target settings: the URL and TargetSpec keys, validated once, turned into what a
 * connection needs. Errors are E_CONFIG and name the key to fix; the password is never in them.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type ConnectionOptions } from 'node:tls';
import { TargetError } from '../errors.ts';
import { resolvePassword } from '../secrets.ts';
import type { TargetSpec } from '../spec.ts';

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
const MAX_CONNECTIONS = 64;

/** Keys of TargetSpec that have no meaning for FTP (SSH's and WebDAV's). */
const SSH_ONLY_KEYS = ['identityFile', 'passphrase', 'passphraseFile', 'knownHosts', 'hostKey', 'headers', 'type'] as const;

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

export function ftpSettings(spec: TargetSpec, url: URL): FtpSettings {
  for (const key of SSH_ONLY_KEYS) {
    if (spec[key] !== undefined) throw configError(url, `key "${key}" does not apply to FTP: remove it`);
  }
  if (url.hostname === '') throw configError(url, 'no host: write ftp://user@host[:port]/path');
  if (url.search !== '' || url.hash !== '') throw configError(url, 'query strings and fragments are not allowed in an FTP URL');

  const isFtps = url.protocol === 'ftps:';
  const tls: FtpTlsMode = spec.tls ?? (isFtps ? 'explicit' : 'none');
  if (isFtps && tls === 'none') throw configError(url, 'ftps:// with `tls: none` is contradictory: use ftp:// for plain FTP');
  if (tls === 'none' && (spec.ca !== undefined || spec.insecure !== undefined)) {
    throw configError(url, '`ca` and `insecure` apply only with TLS: use ftps:// or set `tls: explicit`');
  }
  const connections = spec.connections ?? DEFAULT_CONNECTIONS;
  if (!Number.isInteger(connections) || connections < 1 || connections > MAX_CONNECTIONS) {
    throw configError(url, `connections must be an integer from 1 to ${MAX_CONNECTIONS}, got ${String(spec.connections)}`);
  }
  const timeoutMs = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 100) throw configError(url, `timeoutMs must be at least 100, got ${String(spec.timeoutMs)}`);

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
    let ca: string[] | undefined;
    if (spec.ca !== undefined) {
      let pem: string;
      try {
        pem = readFileSync(spec.ca, 'utf8');
      } catch (err) {
        throw configError(url, `cannot read ca file ${spec.ca} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw configError(url, `ca file ${spec.ca} holds no PEM certificate`);
      ca = [...rootCertificates, pem];
    }
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
