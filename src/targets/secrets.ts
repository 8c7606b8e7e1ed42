import { readFileSync } from 'node:fs';
import { TargetError } from './errors.ts';

/**
 * The password for a target, from (in order) `password`, `passwordFile`, the URL's
 * `user:password@`, or the environment variable SYNC_INOTIFY_PASSWORD. Undefined when none.
 * The value is never logged; errors name the source, not the secret.
 */
export function resolvePassword(spec: { readonly password?: string | undefined; readonly passwordFile?: string | undefined }, url: URL): string | undefined {
  if (spec.password !== undefined) return spec.password;
  if (spec.passwordFile !== undefined) return readSecretFile(spec.passwordFile, 'passwordFile');
  if (url.password !== '') return decodeUrlPart(url.password);
  const fromEnv = process.env['SYNC_INOTIFY_PASSWORD'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

/**
 * Percent-decodes a URL's user or password as written: a `%` that does not start a valid
 * escape (`p%zz`) is taken literally instead of failing (decodeURIComponent throws there).
 */
export function decodeUrlPart(text: string): string {
  return text.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

export function resolvePassphrase(spec: { readonly passphrase?: string | undefined; readonly passphraseFile?: string | undefined }): string | undefined {
  if (spec.passphrase !== undefined) return spec.passphrase;
  if (spec.passphraseFile !== undefined) return readSecretFile(spec.passphraseFile, 'passphraseFile');
  return undefined;
}

/** Reads a one-line secret file; trailing newline is dropped. */
export function readSecretFile(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TargetError('E_CONFIG', `cannot read ${key} ${file} (${code}): check the path and its permissions`);
  }
}
