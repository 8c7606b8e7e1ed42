/**
 * The one assertion of a target's typed failure: `promise` rejects with a TargetError whose
 * code is `code` (src/targets/errors.ts); `check` looks further (the message, the path).
 * Returns the error for more checks.
 */
import assert from 'node:assert/strict';
import { TargetError } from '../../src/targets/errors.ts';

export async function expectCode(promise: Promise<unknown>, code: string, check?: (err: TargetError) => void): Promise<TargetError> {
  let caught: TargetError | undefined;
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof TargetError, `expected a TargetError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    check?.(err);
    caught = err;
    return true;
  });
  return caught!;
}
