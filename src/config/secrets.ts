/**
 * Every secret a configuration holds (passwords, keys, tokens, the content of secret files,
 * URL passwords, SYNC_INOTIFY_PASSWORD), so log lines and `status` can mask it wherever it
 * shows (log/redact.ts). Which keys are secrets comes from the backends' declarations
 * (targets/registry.ts).
 */
import type { ConfigFile } from './schema.ts';
import { SECRET_FILE_KEYS, SECRET_KEYS } from '../targets/registry.ts';
import { decodeUrlPart, readSecretFile } from '../targets/secrets.ts';

/** Every secret of the configuration, so log lines and status can mask it wherever it shows. */
export function secretsOf(config: ConfigFile): string[] {
  const out = new Set<string>();
  const env = process.env['SYNC_INOTIFY_PASSWORD'];
  if (env) out.add(env);
  for (const s of config.syncs) {
    for (const t of s.targets) {
      const keys = t as Record<string, unknown>;
      for (const key of SECRET_KEYS) {
        const value = keys[key];
        // A map of secrets (WebDAV `headers`): each value is one, and so is its credential
        // part (`Bearer <token>`), which may show on its own.
        for (const v of typeof value === 'string' ? [value] : value !== null && typeof value === 'object' ? Object.values(value) : []) {
          if (typeof v !== 'string') continue;
          out.add(v);
          const credential = /^[A-Za-z][\w-]*\s+(\S.*)$/.exec(v)?.[1];
          if (credential !== undefined && credential.length >= 8) out.add(credential);
        }
      }
      for (const key of SECRET_FILE_KEYS) {
        const file = keys[key];
        if (typeof file !== 'string') continue;
        try {
          out.add(readSecretFile(file, key));
        } catch {
          // the target reports an unreadable file itself
        }
      }
      try {
        const u = new URL(t.url);
        if (u.password) {
          out.add(decodeUrlPart(u.password));
          out.add(u.password);
        }
      } catch {
        // a plain path
      }
    }
  }
  return [...out].filter((s) => s !== '');
}
