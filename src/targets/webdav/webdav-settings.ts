/**
 * WebDAV target settings: the URL and TargetSpec keys, validated once, turned into what the
 * client needs. Errors are E_CONFIG and name the key to fix; neither the password nor a
 * header value is ever in them.
 *
 * URLs: `webdav://user@host[:port]/path` (HTTP), `webdavs://…` (HTTPS), or `http(s)://…` with
 * `type: webdav`. The path is the collection on the server that is the target root.
 */
import { trustedCas } from '../trusted-cas.ts';
import { TargetError } from '../errors.ts';
import { resolvePassword } from '../secrets.ts';
import type { WebdavSpec } from './options.ts';

/** The keys this backend reads: the shared ones, `headers` and `type` among them. */
export type { WebdavSpec };

export interface WebdavTls {
  /** CA certificates to trust: the system ones plus `ca` (undefined: Node's defaults). */
  readonly ca: string[] | undefined;
  readonly rejectUnauthorized: boolean;
  /** SNI name; undefined for an IP literal (Node refuses SNI for those). */
  readonly servername: string | undefined;
}

export interface WebdavSettings {
  /** `http://host:port` or `https://host:port`. */
  readonly origin: string;
  /** Decoded path segments of the target root on the server (empty: the server's "/"). */
  readonly rootSegments: readonly string[];
  /** Login name; undefined: no credentials (a server that asks then gets E_AUTH). */
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** Extra headers sent with every request. */
  readonly headers: Readonly<Record<string, string>>;
  /** Set for https. */
  readonly tls: WebdavTls | undefined;
  readonly insecure: boolean;
  readonly connections: number;
  /** Connect, header and body-inactivity timeout of each request. */
  readonly timeoutMs: number;
  /** URL without the password: for logs, errors and status. */
  readonly displayName: string;
}

export const WEBDAV_DEFAULTS = { connections: 4, timeoutMs: 30_000 } as const;
const MAX_CONNECTIONS = 64;


/** Headers the client sets itself per request: a configured value would break the protocol. */
const RESERVED_HEADERS = new Set(['content-length', 'content-type', 'depth', 'destination', 'overwrite', 'host', 'connection', 'transfer-encoding', 'x-oc-mtime', 'keep-alive', 'te', 'upgrade']);

function displayUrl(url: URL): string {
  const user = url.username === '' ? '' : `${url.username}@`;
  const port = url.port === '' ? '' : `:${url.port}`;
  return `${url.protocol}//${user}${url.hostname}${port}${url.pathname}`;
}

function configError(url: URL, message: string): TargetError {
  return new TargetError('E_CONFIG', `target ${displayUrl(url)}: ${message}`);
}

function decode(url: URL, text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw configError(url, `${what} is not valid percent-encoding`);
  }
}

export function webdavSettings(spec: WebdavSpec, url: URL): WebdavSettings {
  let secure: boolean;
  switch (url.protocol) {
    case 'webdav:':
    case 'webdavs:':
      secure = url.protocol === 'webdavs:';
      if (spec.type !== undefined && spec.type !== 'webdav') throw configError(url, `type "${spec.type}" contradicts the ${url.protocol}// scheme: remove it`);
      break;
    case 'http:':
    case 'https:':
      if (spec.type !== 'webdav') throw configError(url, 'an http(s):// target needs `type: webdav` (or write webdav:// / webdavs://)');
      secure = url.protocol === 'https:';
      break;
    default:
      throw configError(url, `scheme ${url.protocol}// is not a WebDAV scheme`);
  }
  if (url.hostname === '') throw configError(url, 'no host: write webdav://user@host[:port]/path');
  if (url.search !== '' || url.hash !== '') throw configError(url, 'query strings and fragments are not allowed in a WebDAV URL');
  if (!secure && (spec.ca !== undefined || spec.insecure !== undefined)) {
    throw configError(url, '`ca` and `insecure` apply only to HTTPS: use webdavs:// or https://');
  }
  const connections = spec.connections ?? WEBDAV_DEFAULTS.connections;
  if (!Number.isInteger(connections) || connections < 1 || connections > MAX_CONNECTIONS) {
    throw configError(url, `connections must be an integer from 1 to ${MAX_CONNECTIONS}, got ${String(spec.connections)}`);
  }
  const timeoutMs = spec.timeoutMs ?? WEBDAV_DEFAULTS.timeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 100) throw configError(url, `timeoutMs must be at least 100, got ${String(spec.timeoutMs)}`);

  const rootSegments = url.pathname
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decode(url, s, `path segment "${s}"`));
  for (const seg of rootSegments) {
    if (seg === '.' || seg === '..' || seg.includes('/') || /[\0\r\n]/.test(seg)) {
      throw configError(url, `path segment ${JSON.stringify(seg)} is not allowed: write the collection as an absolute path`);
    }
  }

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw configError(url, `headers: ${JSON.stringify(name)} is not a valid header name`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw configError(url, `headers: "${name}" is set by sync-inotify itself: remove it`);
    // The value is a secret: say what is wrong with it, never what it is.
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) throw configError(url, `headers: the value of "${name}" must be one line of text`);
    headers[name] = value;
  }

  const user = url.username === '' ? undefined : decode(url, url.username, 'the user name');
  const password = resolvePassword(spec, url);
  if (password !== undefined && user === undefined) throw configError(url, 'a password is set but the URL names no user: write webdav://user@host/path');

  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const insecure = spec.insecure === true;
  let tls: WebdavTls | undefined;
  if (secure) {
    const ca = trustedCas(spec.ca, (message) => configError(url, message));
    const isIp = /^[\d.]+$/.test(host) || host.includes(':');
    tls = { ca, rejectUnauthorized: !insecure, servername: isIp ? undefined : host };
  }
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    origin: `${secure ? 'https' : 'http'}://${hostPart}:${port}`,
    rootSegments,
    user,
    password,
    headers,
    tls,
    insecure,
    connections,
    timeoutMs,
    displayName: displayUrl(url),
  };
}
