/**
 * The rsync backend's one translation table: rsync's exit code and what it (or ssh, or the
 * daemon) printed → TargetError. Whole-call failures and per-path errors (errno) both come
 * from here. See README "The rsync target".
 */
import { TargetError, type TargetErrorCode } from '../errors.ts';

/** errno printed at the end of an rsync error line → code for that path. */
export const ERRNO_CODES: Readonly<Record<number, TargetErrorCode>> = {
  1: 'E_PERMISSION', // EPERM
  2: 'E_NOT_FOUND', // ENOENT
  13: 'E_PERMISSION', // EACCES
  17: 'E_EXISTS', // EEXIST
  20: 'E_EXISTS', // ENOTDIR: a file where a directory goes
  21: 'E_EXISTS', // EISDIR
  28: 'E_NO_SPACE', // ENOSPC
  30: 'E_PERMISSION', // EROFS
  36: 'E_NAME', // ENAMETOOLONG
  39: 'E_NOT_EMPTY', // ENOTEMPTY (and "cannot delete non-empty directory")
  40: 'E_LINK_IN_PATH', // ELOOP: the receiver refused to go through a link (secure path walk)
  84: 'E_NAME', // EILSEQ
  122: 'E_NO_SPACE', // EDQUOT
};

/** Whole-call failures: the first row whose exit code and text match. */
const CALL_TABLE: readonly { readonly exit?: readonly number[]; readonly text: RegExp; readonly code: TargetErrorCode; readonly hint: string }[] = [
  { text: /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known/i, code: 'E_HOST_KEY', hint: 'the server offered a host key the configuration does not accept: check knownHosts/hostKey' },
  { text: /@ERROR: auth failed|Permission denied \((publickey|password|keyboard)|Too many authentication failures/i, code: 'E_AUTH', hint: 'login rejected: check the user and password (daemon) or identityFile (ssh)' },
  { text: /@ERROR: Unknown module/i, code: 'E_CONFIG', hint: 'the daemon has no such module: check the first path segment of the URL (rsync://host/MODULE/path)' },
  { text: /@ERROR: (access denied|module is read only)|read-only|read only/i, code: 'E_PERMISSION', hint: 'the daemon refuses writes to this module (read only, or hosts allow/deny)' },
  { text: /@ERROR: max connections/i, code: 'E_CONNECTION', hint: 'the daemon is at its connection limit' },
  { text: /No space left on device|Disk quota exceeded/i, code: 'E_NO_SPACE', hint: 'the target is full' },
  { exit: [1], text: /./s, code: 'E_PROTOCOL', hint: 'rsync refused its arguments (a bug here, or an rsync too old: 3.2.3 or later is needed)' },
  { exit: [30, 35], text: /./s, code: 'E_TIMEOUT', hint: 'no progress within timeoutMs' },
  { text: /timed out|timeout in data/i, code: 'E_TIMEOUT', hint: 'no answer within timeoutMs' },
  { text: /Connection refused|failed to connect|No route to host|Network is unreachable|Could not resolve|Name or service not known/i, code: 'E_CONNECTION', hint: 'the server is not reachable' },
  { exit: [10, 12, 13, 14, 20, 255], text: /./s, code: 'E_CONNECTION', hint: 'the connection failed' },
  { exit: [3], text: /change_dir.*No such file or directory|No such file or directory/i, code: 'E_ROOT_GONE', hint: 'the target root is missing' },
];

/** A whole rsync call that failed (not 0, 23 or 24), as the error every item of it shares. */
export function translateCall(exit: number, stderr: string, what: string): TargetError {
  const said = lastLines(stderr);
  for (const row of CALL_TABLE) {
    if (row.exit !== undefined && !row.exit.includes(exit)) continue;
    if (row.text.test(stderr)) return new TargetError(row.code, `${what}: ${row.hint} (rsync exit ${exit}${said ? `: ${said}` : ''})`);
  }
  return new TargetError('E_PROTOCOL', `${what}: rsync exit ${exit}${said ? `: ${said}` : ''}`);
}

/** One path's error line → its TargetError. */
export function translatePathError(errno: number | undefined, line: string, path: string): TargetError {
  const code = (errno !== undefined ? ERRNO_CODES[errno] : undefined) ?? 'E_PROTOCOL';
  return new TargetError(code, line.replace(/^rsync: /, ''), { path });
}

/** The last few meaningful lines of rsync's stderr, for a message (never holds a password). */
function lastLines(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^rsync error: .*\(code \d+\)/.test(l))
    .slice(-2)
    .join(' / ')
    .slice(0, 400);
}
