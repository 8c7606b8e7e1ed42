import { TargetError, type TargetErrorCode } from '../errors.ts';
import { quotePath } from '../../core/names.ts';

/** errno → target error code, the local backend's one translation table. */
const TABLE: Record<string, TargetErrorCode> = {
  ENOENT: 'E_NOT_FOUND',
  EEXIST: 'E_EXISTS',
  EISDIR: 'E_EXISTS',
  ENOTDIR: 'E_EXISTS',
  ENOTEMPTY: 'E_NOT_EMPTY',
  // Only O_NOFOLLOW opens meet a link here (see local-target.ts): a link where a file goes.
  ELOOP: 'E_LINK_IN_PATH',
  EACCES: 'E_PERMISSION',
  EPERM: 'E_PERMISSION',
  EROFS: 'E_PERMISSION',
  ENOSPC: 'E_NO_SPACE',
  EDQUOT: 'E_NO_SPACE',
  ENAMETOOLONG: 'E_NAME',
  EINVAL: 'E_NAME',
  EILSEQ: 'E_NAME',
  EIO: 'E_CONNECTION',
  ENOTCONN: 'E_CONNECTION',
  ESTALE: 'E_CONNECTION',
};

export function translateLocalError(err: unknown, op: string, path: string): TargetError {
  if (err instanceof TargetError) return err;
  const errno = (err as NodeJS.ErrnoException).code ?? 'UNKNOWN';
  const code = TABLE[errno] ?? 'E_PROTOCOL';
  return new TargetError(code, `${op} ${quotePath(path)}: ${errno}`, { path, cause: err });
}
