import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyS3Error, translateS3Error } from './translate-error.ts';

/** The shapes the SDK rejects with: a named error with $metadata, or a socket error. */
function sdkError(name: string, status: number | undefined, message = 'msg'): Error {
  const e = new Error(message) as Error & { $metadata: { httpStatusCode?: number } };
  e.name = name;
  e.$metadata = status === undefined ? {} : { httpStatusCode: status };
  return e;
}
function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
}

describe('S3 error translation', () => {
  const table: [string, Error, string][] = [
    ['missing object', sdkError('NoSuchKey', 404), 'E_NOT_FOUND'],
    ['HEAD of a missing object (no body)', sdkError('NotFound', 404, 'UnknownError'), 'E_NOT_FOUND'],
    ['missing bucket', sdkError('NoSuchBucket', 404), 'E_CONFIG'],
    ['wrong secret (Swift, AWS)', sdkError('SignatureDoesNotMatch', 403), 'E_AUTH'],
    ['unknown key id', sdkError('InvalidAccessKeyId', 403), 'E_AUTH'],
    ['no credentials anywhere', sdkError('CredentialsProviderError', undefined, 'Could not load credentials from any providers'), 'E_AUTH'],
    ['policy refuses this key', sdkError('AccessDenied', 403), 'E_PERMISSION'],
    ['bodiless 403 (HEAD)', sdkError('Unknown', 403, 'UnknownError'), 'E_PERMISSION'],
    ['throttled', sdkError('SlowDown', 503), 'E_PROTOCOL'],
    ['unavailable', sdkError('ServiceUnavailable', 503), 'E_PROTOCOL'],
    ['any other 5xx', sdkError('Unknown', 502, 'UnknownError'), 'E_PROTOCOL'],
    ['server refuses the operation', sdkError('NotImplemented', 501), 'E_UNSUPPORTED'],
    ['key too long', sdkError('KeyTooLongError', 400), 'E_NAME'],
    ['wrong region', sdkError('PermanentRedirect', 301), 'E_CONFIG'],
    ['clock skew', sdkError('RequestTimeTooSkewed', 403), 'E_CONFIG'],
    ['quota', sdkError('QuotaExceeded', 403), 'E_NO_SPACE'],
    ['request timeout', sdkError('RequestTimeout', 400), 'E_TIMEOUT'],
    ['SDK socket timeout', sdkError('TimeoutError', undefined), 'E_TIMEOUT'],
    ['refused', socketError('ECONNREFUSED'), 'E_CONNECTION'],
    ['reset', socketError('ECONNRESET'), 'E_CONNECTION'],
    ['DNS', socketError('ENOTFOUND'), 'E_CONNECTION'],
    ['unknown name, no status', sdkError('Weird', undefined), 'E_PROTOCOL'],
  ];
  for (const [what, err, code] of table) {
    it(`${what} → ${code}`, () => assert.equal(classifyS3Error(err).code, code));
  }

  it('a socket error on the cause counts too', () => {
    const wrapped = new Error('fetch failed', { cause: socketError('ECONNREFUSED') });
    assert.equal(classifyS3Error(wrapped).code, 'E_CONNECTION');
  });

  it('overrides apply by code, and secrets are masked in the message', () => {
    const err = sdkError('Unknown', 403, 'denied for AKIAEXAMPLEKEY with s3cr3t-value');
    const t = translateS3Error(err, 'connect to s3://b/p', undefined, ['AKIAEXAMPLEKEY', 's3cr3t-value'], { E_PERMISSION: 'E_AUTH' });
    assert.equal(t.code, 'E_AUTH');
    assert.equal(t.scope, 'pause');
    assert.ok(!t.message.includes('AKIAEXAMPLEKEY') && !t.message.includes('s3cr3t-value'), t.message);
    assert.match(t.message, /HTTP 403/);
  });

  it('names the path', () => {
    const t = translateS3Error(sdkError('AccessDenied', 403), 'put', 'a/b.txt', []);
    assert.equal(t.path, 'a/b.txt');
    assert.equal(t.scope, 'path');
    assert.match(t.message, /put "?a\/b\.txt"?/);
  });
});
