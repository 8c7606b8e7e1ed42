/**
 * The WebDAV backend's one translation table: HTTP statuses per operation, and undici /
 * socket / TLS failures, → TargetError codes. Servers disagree, so the table is tolerant
 * rather than exact (verified against Apache mod_dav_fs, nginx dav + dav_ext, rclone):
 *   - MKCOL on an existing collection: 405 (Apache, nginx, rclone) or 201 (some accept it);
 *     the target looks before it calls a 405 an error (E_EXISTS when a file is there).
 *   - a missing parent: 409 (Apache, RFC 4918), 404 (rclone for some methods), 403 (some
 *     hosted servers), 500 (nginx's PUT): all E_NOT_FOUND, except that 403 and 500 are
 *     ambiguous, so the target checks the parent before naming the error.
 *   - MKCOL where a file has the name: 405, or 400/409 (Apache, nginx): the target looks.
 *   - DELETE of a collection: 200 or 204; a 207 names the member that could not go.
 *   - MOVE with `Overwrite: F` onto something: 412.
 * Messages name the operation, the path and the status line; never a password or a header.
 */
import { SOCKET_ERROR_CODES, TargetError, type TargetErrorCode } from '../errors.ts';

export type DavOperation = 'connect' | 'stat' | 'list' | 'mkdir' | 'put' | 'move' | 'delete' | 'proppatch';

/** Statuses every operation maps the same way. */
const COMMON: Readonly<Record<number, TargetErrorCode>> = {
  400: 'E_NAME', // the server could not take the request line: in practice the name
  401: 'E_AUTH',
  403: 'E_PERMISSION',
  404: 'E_NOT_FOUND',
  405: 'E_UNSUPPORTED',
  408: 'E_TIMEOUT',
  409: 'E_NOT_FOUND', // RFC 4918: "a collection in the path does not exist"
  412: 'E_EXISTS',
  413: 'E_PERMISSION', // a size limit of the server for this file
  414: 'E_NAME',
  415: 'E_UNSUPPORTED',
  423: 'E_PROTOCOL', // locked by someone: try again later
  424: 'E_PROTOCOL',
  429: 'E_CONNECTION',
  500: 'E_PROTOCOL',
  501: 'E_UNSUPPORTED',
  502: 'E_CONNECTION',
  503: 'E_CONNECTION',
  504: 'E_TIMEOUT',
  507: 'E_NO_SPACE',
};

/** Where an operation reads a status differently from COMMON. */
const PER_OPERATION: Readonly<Record<DavOperation, Readonly<Record<number, TargetErrorCode>>>> = {
  connect: { 403: 'E_CONFIG', 404: 'E_CONFIG', 405: 'E_CONFIG', 409: 'E_CONFIG' },
  stat: {},
  list: { 405: 'E_NOT_FOUND' }, // PROPFIND on a file URL with a slash: not a collection
  mkdir: { 405: 'E_EXISTS' },
  put: { 405: 'E_EXISTS' }, // PUT onto a collection
  move: { 405: 'E_EXISTS', 502: 'E_PERMISSION' }, // 502: destination refused (RFC 4918 §9.9.4)
  delete: { 405: 'E_PERMISSION' },
  proppatch: { 403: 'E_UNSUPPORTED', 405: 'E_UNSUPPORTED', 409: 'E_UNSUPPORTED' },
};

/** The code for `status` answered to `op`; 2xx is not an error and never reaches here. */
export function codeForStatus(op: DavOperation, status: number): TargetErrorCode {
  const specific = PER_OPERATION[op][status] ?? COMMON[status];
  if (specific !== undefined) return specific;
  if (status >= 300 && status < 400) return op === 'connect' ? 'E_CONFIG' : 'E_PROTOCOL';
  if (status >= 500) return 'E_PROTOCOL';
  return 'E_PROTOCOL';
}

/** The TargetError for an HTTP status answered to `op` on `path`. */
export function statusError(op: DavOperation, path: string, status: number, detail = '', code = codeForStatus(op, status)): TargetError {
  const hint = status >= 300 && status < 400 ? ' (a redirect: check the URL, e.g. http:// vs https://)' : '';
  return new TargetError(code, `${op} ${JSON.stringify(path)}: HTTP ${status}${detail ? ` ${detail}` : ''}${hint}`, { path });
}

/** TLS verification failures (Node's codes): the certificate could not be trusted. */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/** undici's error codes. */
const UNDICI_CODES: Readonly<Record<string, TargetErrorCode>> = {
  UND_ERR_CONNECT_TIMEOUT: 'E_TIMEOUT',
  UND_ERR_HEADERS_TIMEOUT: 'E_TIMEOUT',
  UND_ERR_BODY_TIMEOUT: 'E_TIMEOUT',
  UND_ERR_SOCKET: 'E_CONNECTION',
  UND_ERR_CLOSED: 'E_CONNECTION',
  UND_ERR_DESTROYED: 'E_CONNECTION',
  UND_ERR_ABORTED: 'E_CONNECTION',
  UND_ERR_INFO: 'E_PROTOCOL',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'E_CONNECTION',
  UND_ERR_RESPONSE_STATUS_CODE: 'E_PROTOCOL',
};

/** Translate a failure that is not an HTTP status (socket, TLS, timeout) for `what`. */
export function translateNetworkError(err: unknown, what: string, path?: string): TargetError {
  if (err instanceof TargetError) return err;
  const e = (err ?? {}) as { code?: unknown; message?: unknown; cause?: unknown };
  // undici wraps the socket error as `cause` of a TypeError('fetch failed') in some paths.
  const inner = (typeof e.code !== 'string' && e.cause !== undefined ? e.cause : e) as { code?: unknown; message?: unknown };
  const code = typeof inner.code === 'string' ? inner.code : undefined;
  const message = typeof inner.message === 'string' ? inner.message : String(err);
  const opts = { cause: err, ...(path === undefined ? {} : { path }) };
  if (code !== undefined && TLS_CODES.has(code)) {
    return new TargetError('E_HOST_KEY', `${what}: the server's TLS certificate is not trusted (${code}: ${message}); set \`ca\` to the CA that signed it`, opts);
  }
  const mapped = code === undefined ? undefined : (UNDICI_CODES[code] ?? SOCKET_ERROR_CODES[code]);
  if (mapped !== undefined) return new TargetError(mapped, `${what}: ${code} (${message})`, opts);
  if (/wrong version number|packet length too long|ssl/i.test(message)) {
    return new TargetError('E_CONFIG', `${what}: TLS handshake failed (${message}); is this an HTTPS server? (webdav:// is plain HTTP)`, opts);
  }
  return new TargetError('E_CONNECTION', `${what}: ${message}`, opts);
}
