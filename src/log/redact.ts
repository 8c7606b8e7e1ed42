/**
 * Secrets kept out of every line a user or a log sees: `redactSecrets` removes URL passwords
 * from free text, `redactUrl` from a URL as typed, `maskSecrets` replaces known secret values
 * (passwords, keys, tokens from the configuration) wherever they appear, `maskValue` does both
 * on every string of a value (a `status` payload, a configuration dump). Every logger line
 * passes through here (logger.ts, output.ts); errors shown by the CLI too.
 */

/**
 * Remove `user:password@` from anything that looks like a URL (errors, logs, status). A
 * password may hold `@ : / # %` written raw, so it runs to the last `@` of the word: that
 * may hide some text after it, never part of a password.
 */
export function redactSecrets(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*):(\S*)@/gi, '$1$2:***@');
}

/**
 * A URL as typed, for a message about it, without its password: everything between the
 * first `:` after the user and the last `@` is the password (spaces included), whether or
 * not the URL parses. Without `@` there is no user part, and it is shown as it is.
 */
export function redactUrl(raw: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(raw);
  if (!m) return redactSecrets(raw);
  const rest = m[2]!;
  const at = rest.lastIndexOf('@');
  if (at < 0) return raw;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  return `${m[1]}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`}@${rest.slice(at + 1)}`;
}

/** Secrets shorter than this are not masked inside other text (they would mangle paths). */
const MIN_SECRET_LENGTH = 4;

/** Mask every occurrence of the given secrets. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= MIN_SECRET_LENGTH && out.includes(s)) out = out.split(s).join('***');
  return out;
}

/** Every string in `value` (deeply) redacted and masked. */
export function maskValue<T>(value: T, secrets: readonly string[]): T {
  if (typeof value === 'string') return maskSecrets(redactSecrets(value), secrets) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => maskValue(v, secrets)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValue(v, secrets)])) as T;
  }
  return value;
}
