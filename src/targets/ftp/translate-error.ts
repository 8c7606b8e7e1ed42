/**
 * The FTP backend's one translation table: FTP reply codes, basic-ftp's own errors, socket and
 * TLS errors → `TargetError` codes. Callers that can tell more from context (vsftpd answers
 * every failure with a bare "550 … operation failed.") probe the server and pick the code
 * themselves; this table is what is left when nothing better is known.
 *
 * Every message passes through `scrub`, so the password can never leak through a server
 * reply, a library message or a cause.
 */
import { FTPError } from 'basic-ftp';
import { quotePath } from '../../core/names.ts';
import { SOCKET_ERROR_CODES, TargetError, redactSecrets, type TargetErrorCode } from '../errors.ts';
import { fromWire } from './wire.ts';

/** What was being done: shapes the message and decides 530 (login) vs 530 (later). */
export type FtpOperation =
  | 'connect'
  | 'login'
  | 'open target root'
  | 'stat'
  | 'list'
  | 'put'
  | 'mkdir'
  | 'remove'
  | 'rmdir'
  | 'rename'
  | 'set mtime';

/** Node / OpenSSL certificate verification failures: the server could not be authenticated. */
const CERT_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Replace every occurrence of the secret (and any user:password@ URL) in `text`. */
export function scrub(text: string, secret: string | undefined): string {
  let out = redactSecrets(text);
  if (secret !== undefined && secret !== '') out = out.split(secret).join('***');
  return out;
}

/** The code for a 550 reply, read from the server's wording (pure-ftpd says what happened). */
function codeFor550(message: string): TargetErrorCode | undefined {
  if (/no such file|not found|does ?n[o']t exist|can't check for file existence/i.test(message)) return 'E_NOT_FOUND';
  if (/not empty/i.test(message)) return 'E_NOT_EMPTY';
  if (/file exists|already exists|not a directory|is a directory/i.test(message)) return 'E_EXISTS';
  if (/permission|denied|not allowed|prohibited|read-only/i.test(message)) return 'E_PERMISSION';
  if (/no space|quota|disk full/i.test(message)) return 'E_NO_SPACE';
  return undefined;
}

/** Code for a reply code, given the operation; `fallback550` is the caller's best guess. */
export function codeForReply(reply: number, message: string, op: FtpOperation, fallback550: TargetErrorCode = 'E_PERMISSION'): TargetErrorCode {
  switch (reply) {
    case 530:
      // "530 Non-anonymous sessions must use encryption": a settings problem, not a password.
      if (/encrypt|tls|ssl|secure/i.test(message)) return 'E_CONFIG';
      return op === 'login' || op === 'connect' ? 'E_AUTH' : 'E_PERMISSION';
    case 534: // request denied for policy reasons (TLS required or refused)
    case 522:
      return 'E_CONFIG';
    case 421: // service closing control connection (also "too many connections")
    case 425: // can't open data connection
    case 426: // connection closed, transfer aborted
      return 'E_CONNECTION';
    case 452: // insufficient storage
    case 552: // exceeded storage allocation
      return 'E_NO_SPACE';
    case 450: // file busy
    case 451: // local error in processing; pure-ftpd adds the errno text ("Is a directory")
      return codeFor550(message) ?? 'E_PROTOCOL';
    case 553: {
      // "File name not allowed" per RFC 959; servers also use it for "cannot create".
      const byText = codeFor550(message);
      return byText === 'E_NOT_FOUND' || byText === 'E_PERMISSION' || byText === 'E_NO_SPACE' ? byText : 'E_NAME';
    }
    case 550:
      return codeFor550(message) ?? fallback550;
    case 501: // syntax error in arguments: usually a name the server cannot parse
      return 'E_NAME';
    case 500:
    case 502:
    case 504:
      return 'E_UNSUPPORTED';
    default:
      return 'E_PROTOCOL';
  }
}

/** The code for an error that is not an FTP reply: sockets, TLS, basic-ftp's own messages. */
function codeForOther(err: Error & { code?: unknown }, op: FtpOperation): TargetErrorCode {
  const atConnect = op === 'connect' || op === 'login';
  const errno = typeof err.code === 'string' ? err.code : undefined;
  if (errno !== undefined && CERT_ERRORS.has(errno)) return 'E_HOST_KEY';
  if (errno !== undefined && SOCKET_ERROR_CODES[errno] !== undefined) return SOCKET_ERROR_CODES[errno];
  const msg = err.message;
  if (/contains control characters/i.test(msg)) return 'E_NAME';
  if (/timeout/i.test(msg)) return 'E_TIMEOUT';
  if (/certificate|self.signed|unable to verify/i.test(msg)) return 'E_HOST_KEY';
  // At connect, TLS noise means the TLS setting does not match the port (plain vs implicit).
  // Later, on a session that worked, it is a broken data connection: transient.
  if (/wrong version number|unknown protocol|ssl routines/i.test(msg) || (errno?.startsWith('ERR_SSL_') ?? false)) return atConnect ? 'E_CONFIG' : 'E_CONNECTION';
  if (/closed|FIN packet|transmission error|data connection|transfer strateg|socket hang up|disconnected/i.test(msg)) return 'E_CONNECTION';
  if (errno !== undefined && /^E[A-Z]+$/.test(errno)) return 'E_CONNECTION';
  return 'E_PROTOCOL';
}

export interface TranslateOptions {
  /** The password: removed from every message. */
  readonly secret?: string | undefined;
  /** Code for a bare 550 whose wording says nothing (vsftpd). */
  readonly fallback550?: TargetErrorCode;
}

/** Any failure of an FTP call → a TargetError naming the operation and the relative path. */
export function translateFtpError(err: unknown, op: FtpOperation, path: string, options: TranslateOptions = {}): TargetError {
  if (err instanceof TargetError) return err;
  const { secret } = options;
  let code: TargetErrorCode;
  let detail: string;
  if (err instanceof FTPError) {
    code = codeForReply(err.code, err.message, op, options.fallback550);
    // After login a session reads replies as latin1 (wire.ts): a name in one is shown decoded.
    const text = op === 'connect' || op === 'login' ? err.message : fromWire(err.message);
    detail = text.trim().replace(/\s*\n\s*/g, ' ');
  } else if (err instanceof Error) {
    code = codeForOther(err, op);
    const errno = (err as { code?: unknown }).code;
    detail = typeof errno === 'string' && errno !== '0' && !err.message.includes(errno) ? `${errno}: ${err.message}` : err.message;
  } else {
    code = 'E_PROTOCOL';
    detail = String(err);
  }
  detail = scrub(detail.split('\n')[0] ?? '', secret);
  return new TargetError(code, `${op} ${quotePath(path)}: ${detail}${hintFor(code, op)}`, { path, cause: scrubbedCause(err, secret) });
}

function hintFor(code: TargetErrorCode, op: FtpOperation): string {
  switch (code) {
    case 'E_AUTH':
      return ' (login rejected: check the user and password)';
    case 'E_HOST_KEY':
      return ' (the server certificate could not be verified: set `ca` to the PEM of its CA, or `insecure: true` to skip the check)';
    case 'E_CONFIG':
      return op === 'login' || op === 'connect' ? ' (check the TLS setting: `tls: explicit` or `implicit` for this server)' : '';
    default:
      return '';
  }
}

/** Keep the original error as the cause, minus the secret in its message and stack. */
function scrubbedCause(err: unknown, secret: string | undefined): unknown {
  if (!(err instanceof Error) || secret === undefined || secret === '') return err;
  if (err.message.includes(secret)) err.message = scrub(err.message, secret);
  if (err.stack?.includes(secret)) err.stack = scrub(err.stack, secret);
  return err;
}

/** Codes after which the session is presumed dead and an idempotent call may be retried. */
export function isConnectionLoss(err: TargetError): boolean {
  return err.code === 'E_CONNECTION' || err.code === 'E_TIMEOUT';
}
