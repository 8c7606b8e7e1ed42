/**
 * The SFTP backend's one translation table: SFTP status codes (per request) and ssh2
 * connection errors (per session) → TargetError codes.
 *
 * SFTP v3 (what OpenSSH speaks) has few status codes. OpenSSH's sftp-server maps errno as:
 *   ENOENT, ENOTDIR, EBADF, ELOOP → NO_SUCH_FILE; EPERM, EACCES, EFAULT → PERMISSION_DENIED;
 *   ENAMETOOLONG, EINVAL → BAD_MESSAGE; ENOSYS → OP_UNSUPPORTED; everything else → FAILURE.
 * So EEXIST, ENOTEMPTY, EISDIR and ENOSPC all arrive as a bare "Failure": the target
 * disambiguates those by looking (lstat, statvfs) where it matters, and this table maps a
 * bare FAILURE to E_PROTOCOL (transient: retried) unless the caller knows better.
 *
 * Messages never contain secrets: ssh2 errors do not carry the password or passphrase, and
 * we only ever quote their `message` plus our own text.
 */
import { SOCKET_ERROR_CODES, TargetError, type TargetErrorCode } from '../errors.ts';
import { quotePath } from '../../core/names.ts';

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7). */
export const SFTP_STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

const STATUS_TABLE: Record<number, TargetErrorCode> = {
  [SFTP_STATUS.NO_SUCH_FILE]: 'E_NOT_FOUND',
  [SFTP_STATUS.PERMISSION_DENIED]: 'E_PERMISSION',
  [SFTP_STATUS.FAILURE]: 'E_PROTOCOL',
  [SFTP_STATUS.BAD_MESSAGE]: 'E_NAME',
  [SFTP_STATUS.NO_CONNECTION]: 'E_CONNECTION',
  [SFTP_STATUS.CONNECTION_LOST]: 'E_CONNECTION',
  [SFTP_STATUS.OP_UNSUPPORTED]: 'E_UNSUPPORTED',
};


interface Ssh2Error extends Error {
  /** SFTP status (number) or errno (string). */
  code?: number | string;
  /** ssh2's error origin: client-socket, client-timeout, client-authentication, handshake, protocol, … */
  level?: string;
}

/** The SFTP status code of an ssh2 SFTP error, if it is one. */
export function sftpStatusOf(err: unknown): number | undefined {
  const code = (err as Ssh2Error | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNoSuchFile(err: unknown): boolean {
  return sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE;
}

export function isFailure(err: unknown): boolean {
  return sftpStatusOf(err) === SFTP_STATUS.FAILURE;
}

/** ssh2 says this when a channel or connection closed with requests outstanding. */
function isLostConnection(err: Ssh2Error): boolean {
  return /No response from server|Not connected|channel.*(closed|open)|Unable to start subsystem/i.test(err.message);
}

/** Translate the failure of one SFTP request about `path`. */
export function translateSftpError(err: unknown, op: string, path: string, override?: TargetErrorCode): TargetError {
  if (err instanceof TargetError) return err;
  const e = (err ?? {}) as Ssh2Error;
  const status = sftpStatusOf(e);
  let code: TargetErrorCode;
  let detail: string;
  if (override !== undefined) {
    code = override;
    detail = e.message ?? String(err);
  } else if (status !== undefined) {
    code = STATUS_TABLE[status] ?? 'E_PROTOCOL';
    detail = `SFTP status ${status}${e.message ? ` (${e.message})` : ''}`;
  } else if (isLostConnection(e)) {
    code = 'E_CONNECTION';
    detail = `connection lost: ${e.message}`;
  } else {
    return translateSessionError(err, `${op} ${quotePath(path)}`, path);
  }
  return new TargetError(code, `${op} ${quotePath(path)}: ${detail}`, { path, cause: err });
}

/**
 * Translate a session-level failure (connect, handshake, auth, socket). `what` says what we
 * were doing, e.g. "connect to sftp://deploy@host:22".
 */
export function translateSessionError(err: unknown, what: string, path?: string): TargetError {
  if (err instanceof TargetError) return err;
  const e = (err ?? {}) as Ssh2Error;
  const message = e.message ?? String(err);
  const opts = { cause: err, ...(path === undefined ? {} : { path }) };
  const errno = typeof e.code === 'string' ? e.code : undefined;
  if (errno !== undefined && SOCKET_ERROR_CODES[errno] !== undefined) {
    return new TargetError(SOCKET_ERROR_CODES[errno], `${what}: ${errno} (${message})`, opts);
  }
  switch (e.level) {
    case 'client-timeout':
      return new TargetError('E_TIMEOUT', `${what}: timed out (${message})`, opts);
    case 'client-authentication':
      return new TargetError('E_AUTH', `${what}: login rejected (${message})`, opts);
    case 'client-dns':
    case 'client-socket':
      return new TargetError('E_CONNECTION', `${what}: ${message}`, opts);
    case 'handshake':
      // Host key refusals are reported by the verifier itself; what is left here is an
      // algorithm mismatch or a corrupt handshake: the settings (or the server) need a human.
      return new TargetError('E_CONFIG', `${what}: SSH handshake failed (${message})`, opts);
  }
  if (/too many authentication failures|authentication/i.test(message)) {
    return new TargetError('E_AUTH', `${what}: login rejected (${message})`, opts);
  }
  if (isLostConnection(e) || /closed|reset|socket|ended/i.test(message)) {
    return new TargetError('E_CONNECTION', `${what}: ${message}`, opts);
  }
  return new TargetError('E_PROTOCOL', `${what}: ${message}`, opts);
}
