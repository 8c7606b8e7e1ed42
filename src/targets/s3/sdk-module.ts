/**
 * The AWS SDK (client-s3 and lib-storage), loaded when an S3 target first connects rather
 * than at every start: it is hundreds of modules, which commands without an S3 target would
 * otherwise pay for. `loadS3Sdk()` resolves once; the target keeps what it returns.
 *
 * The SDK warns at load on Node < 22 that *later* releases will need Node 22; we pin the
 * version (package.json, README "S3"), so the warning says nothing about what runs here and
 * is switched off unless the operator set the variable themselves.
 *
 * Loaded with require, not import(): the CLI runs as one bundle in a vm.Script (for its code
 * cache, scripts/build.mjs), where a dynamic import() of a package outside the bundle has no
 * loader to call, and the SDK ships CommonJS builds.
 */
import { createRequire } from 'node:module';

export type S3Sdk = typeof import('@aws-sdk/client-s3');
export type StorageLib = typeof import('@aws-sdk/lib-storage');

export interface LoadedSdk {
  readonly s3: S3Sdk;
  readonly storage: StorageLib;
}

let loading: Promise<LoadedSdk> | undefined;

export function loadS3Sdk(): Promise<LoadedSdk> {
  loading ??= (async () => {
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    const require = createRequire(import.meta.url);
    const s3 = require('@aws-sdk/client-s3') as S3Sdk;
    const storage = require('@aws-sdk/lib-storage') as StorageLib;
    return { s3, storage };
  })();
  loading.catch(() => {
    loading = undefined; // a failed load (missing package) is retried at the next connect
  });
  return loading;
}
