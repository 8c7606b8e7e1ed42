/**
 * The S3 backend's one translation table: S3 error codes (the `<Code>` of an error response,
 * the SDK error's `name`), HTTP statuses of bodiless answers (HEAD), socket errors and SDK
 * client errors → TargetError codes.
 *
 * Messages quote the error's name, HTTP status and message only: never request headers or
 * the SDK's `$response` (SignatureDoesNotMatch bodies carry the string to sign). Any secret
 * handed in is masked all the same, should a server echo it.
 */
import { SOCKET_ERROR_CODES, TargetError, type TargetErrorCode } from '../errors.ts';
import { quotePath } from '../../core/names.ts';
import { maskSecrets } from '../../log/redact.ts';

/** S3 error codes (docs: "Error responses") and what they mean here. */
export const S3_ERROR_TABLE: Readonly<Record<string, TargetErrorCode>> = {
  NoSuchKey: 'E_NOT_FOUND',
  NotFound: 'E_NOT_FOUND',
  NoSuchUpload: 'E_NOT_FOUND',
  // The settings name something that is not there, or sign the wrong way.
  NoSuchBucket: 'E_CONFIG',
  InvalidBucketName: 'E_CONFIG',
  PermanentRedirect: 'E_CONFIG',
  AuthorizationHeaderMalformed: 'E_CONFIG',
  IllegalLocationConstraintException: 'E_CONFIG',
  InvalidStorageClass: 'E_CONFIG',
  RequestTimeTooSkewed: 'E_CONFIG',
  // The credentials are wrong: stop until the operator fixes them.
  InvalidAccessKeyId: 'E_AUTH',
  SignatureDoesNotMatch: 'E_AUTH',
  ExpiredToken: 'E_AUTH',
  InvalidToken: 'E_AUTH',
  TokenRefreshRequired: 'E_AUTH',
  InvalidClientTokenId: 'E_AUTH',
  CredentialsProviderError: 'E_AUTH',
  // This object only.
  AccessDenied: 'E_PERMISSION',
  AllAccessDisabled: 'E_PERMISSION',
  KeyTooLongError: 'E_NAME',
  InvalidObjectName: 'E_NAME',
  EntityTooLarge: 'E_UNSUPPORTED',
  NotImplemented: 'E_UNSUPPORTED',
  QuotaExceeded: 'E_NO_SPACE',
  // The server is busy or failing: retry with backoff.
  SlowDown: 'E_PROTOCOL',
  ServiceUnavailable: 'E_PROTOCOL',
  InternalError: 'E_PROTOCOL',
  RequestTimeout: 'E_TIMEOUT',
  TimeoutError: 'E_TIMEOUT',
  RequestTimeoutException: 'E_TIMEOUT',
};

/** HTTP status of an answer without an S3 error code (HEAD has no body). */
export const HTTP_STATUS_TABLE: Readonly<Record<number, TargetErrorCode>> = {
  301: 'E_CONFIG',
  400: 'E_PROTOCOL',
  401: 'E_AUTH',
  403: 'E_PERMISSION',
  404: 'E_NOT_FOUND',
  409: 'E_EXISTS',
  412: 'E_EXISTS',
  413: 'E_UNSUPPORTED',
  501: 'E_UNSUPPORTED',
  507: 'E_NO_SPACE',
};

interface SdkError extends Error {
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: 'client' | 'server';
}

export interface Translation {
  readonly code: TargetErrorCode;
  /** Name, status and message: what an operator needs, nothing signed. */
  readonly detail: string;
}

/** The pure part: which code an SDK or socket failure is, and how to say it. */
export function classifyS3Error(err: unknown): Translation {
  const e = (err ?? {}) as SdkError;
  const name = typeof e.name === 'string' && e.name !== 'Error' && e.name !== 'Unknown' ? e.name : undefined;
  const status = e.$metadata?.httpStatusCode;
  const message = typeof e.message === 'string' && e.message !== '' && e.message !== 'UnknownError' ? e.message : undefined;
  const detail = [name, status === undefined ? undefined : `HTTP ${status}`].filter((x) => x !== undefined).join(', ');
  const say = (code: TargetErrorCode) => ({ code, detail: `${detail === '' ? '' : `${detail}: `}${message ?? 'no message'}` });
  // Socket errors: undici/node put the errno in `code`, sometimes on the cause.
  const errno = typeof e.code === 'string' ? e.code : typeof (e.cause as SdkError | undefined)?.code === 'string' ? (e.cause as SdkError).code : undefined;
  if (errno !== undefined && SOCKET_ERROR_CODES[errno] !== undefined) return { code: SOCKET_ERROR_CODES[errno], detail: `${errno}${message ? ` (${message})` : ''}` };
  if (name !== undefined && S3_ERROR_TABLE[name] !== undefined) return say(S3_ERROR_TABLE[name]);
  if (status !== undefined) {
    if (HTTP_STATUS_TABLE[status] !== undefined) return say(HTTP_STATUS_TABLE[status]);
    if (status >= 500) return say('E_PROTOCOL');
  }
  if (e.name === 'AbortError') return say('E_TIMEOUT');
  return say('E_PROTOCOL');
}


/**
 * Translate the failure of one request about `path` (undefined: about the target). `op`
 * says what we were doing, e.g. "put" or "connect to s3://bucket/prefix"; `override` is for
 * callers that know better (a 403 on the bucket at connect is a login problem).
 */
export function translateS3Error(err: unknown, op: string, path: string | undefined, secrets: readonly string[], override?: Partial<Record<TargetErrorCode, TargetErrorCode>>): TargetError {
  if (err instanceof TargetError) return err;
  const t = classifyS3Error(err);
  const code = override?.[t.code] ?? t.code;
  const what = path === undefined ? op : `${op} ${quotePath(path)}`;
  return new TargetError(code, maskSecrets(`${what}: ${t.detail}`, secrets), { cause: err, ...(path === undefined ? {} : { path }) });
}
