/**
 * Typed target errors with stable codes (the undici habit): every backend translates its own
 * failures into one of these, and the executor decides what to do from `code` alone.
 *
 * How the executor reacts, per code:
 *   - transient: the operation is retried with backoff; the target stays up (a reset).
 *   - target-wide: the whole target pauses and retries with backoff (server down, disk full;
 *     any failure to connect, e.g. a destination folder we may not write; a timeout: the
 *     server made no progress for timeoutMs, and waiting that long again for the same op
 *     would leave `status` saying ok for minutes).
 *   - pause: the target stops until the operator acts (login rejected, host key unknown).
 *   - path: only this path fails; it is reported and retried later with growing backoff
 *     (permission denied, name not allowed, a symbolic link where we recorded a directory).
 */
export type TargetErrorCode =
  | 'E_NOT_FOUND' // the path (or its parent) does not exist on the target
  | 'E_EXISTS' // something is in the way (e.g. a directory where a file should go)
  | 'E_NOT_EMPTY' // rmdir of a non-empty directory without recursive
  | 'E_PERMISSION' // the server refused this path
  | 'E_NAME' // the protocol or server cannot carry this name
  | 'E_LINK_IN_PATH' // a directory on the way below the target root is a symbolic link now (see jail.ts)
  | 'E_NO_SPACE' // disk or quota full
  | 'E_CONNECTION' // connection refused, reset, closed
  | 'E_TIMEOUT' // no answer within the deadline
  | 'E_AUTH' // login rejected
  | 'E_HOST_KEY' // host key or certificate could not be verified
  | 'E_UNSUPPORTED' // the target cannot do this operation
  | 'E_CONFIG' // the target settings are wrong
  | 'E_PROTOCOL' // anything else the server said
  | 'E_ROOT_GONE'; // the target root vanished and cannot be recreated (its parent is gone too)

export type ErrorScope = 'transient' | 'target' | 'pause' | 'path';

const SCOPE: Record<TargetErrorCode, ErrorScope> = {
  E_NOT_FOUND: 'path',
  E_EXISTS: 'path',
  E_NOT_EMPTY: 'path',
  E_PERMISSION: 'path',
  E_NAME: 'path',
  E_LINK_IN_PATH: 'path',
  E_NO_SPACE: 'target',
  E_CONNECTION: 'transient',
  E_TIMEOUT: 'target',
  E_AUTH: 'pause',
  E_HOST_KEY: 'pause',
  E_UNSUPPORTED: 'path',
  E_CONFIG: 'pause',
  E_PROTOCOL: 'transient',
  E_ROOT_GONE: 'target',
};

/** Socket errno → code: the same for every network backend. */
export const SOCKET_ERROR_CODES: Readonly<Record<string, TargetErrorCode>> = {
  ECONNREFUSED: 'E_CONNECTION',
  ECONNRESET: 'E_CONNECTION',
  ECONNABORTED: 'E_CONNECTION',
  EPIPE: 'E_CONNECTION',
  EHOSTUNREACH: 'E_CONNECTION',
  ENETUNREACH: 'E_CONNECTION',
  EHOSTDOWN: 'E_CONNECTION',
  ENOTFOUND: 'E_CONNECTION',
  EAI_AGAIN: 'E_CONNECTION',
  ERR_STREAM_PREMATURE_CLOSE: 'E_CONNECTION',
  ETIMEDOUT: 'E_TIMEOUT',
};

export class TargetError extends Error {
  override readonly name = 'TargetError';
  readonly code: TargetErrorCode;
  readonly scope: ErrorScope;
  /** The relative path the operation was about, when there is one. */
  readonly path: string | undefined;

  constructor(code: TargetErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.scope = SCOPE[code];
    this.path = options.path;
  }
}

export function isTargetError(err: unknown): err is TargetError {
  return err instanceof TargetError;
}

// Redaction lives with logging (src/log/redact.ts); re-exported for the modules that
// import it from here.
export { redactSecrets, redactUrl } from '../log/redact.ts';
