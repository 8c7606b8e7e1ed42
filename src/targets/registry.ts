/**
 * The backends, and everything derived from their declarations (backend.ts): which backend a
 * URL names, the config file's target schema, the refusal of keys that belong to another
 * backend, which keys are secrets or paths, and the targets part of `--help`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { Backend, OptionShape, SpecOf, TargetOption } from './backend.ts';
import { TargetError } from './errors.ts';
import { redactUrl } from '../log/redact.ts';
import { parseBwlimit } from '../core/bwlimit.ts';
import type { Target } from './target.ts';
import { localBackend } from './local/backend.ts';
import { ftpBackend } from './ftp/backend.ts';
import { sftpBackend } from './sftp/backend.ts';
import { webdavBackend } from './webdav/backend.ts';
import { s3Backend } from './s3/backend.ts';
import { rsyncBackend } from './rsync/backend.ts';

/**
 * Every backend, in the order `--help` lists them: the one line a new backend adds (with its
 * import). Everything else here, the TargetSpec type included, is derived from this list.
 */
const DECLARED = [localBackend, ftpBackend, sftpBackend, webdavBackend, s3Backend, rsyncBackend] as const;

export const BACKENDS: readonly Backend[] = DECLARED as unknown as readonly Backend[];

/** The option keys a declaration takes (Backend<O> → O). */
type OptionsOf<B> = B extends { readonly options: infer O extends OptionShape } ? O : never;
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** The target settings as a config file or the command line gives them (any backend's keys). */
export type TargetSpec = SpecOf<Intersection<OptionsOf<(typeof DECLARED)[number]>>> & EngineTargetKeys;

/** Keys every target takes, applied by the engine rather than the backend. */
export type EngineTargetKeys = {
  /** Upload bandwidth limit, rclone's syntax (core/bwlimit.ts; README: Bandwidth limits). */
  readonly bwlimit?: string | number;
};

const bwlimitSchema = z.union([z.string(), z.number()]).superRefine((v, ctx) => {
  const r = parseBwlimit(v);
  if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message });
});
const ENGINE_KEYS: readonly string[] = ['bwlimit'];

const BY_SCHEME = new Map<string, Backend>(BACKENDS.flatMap((b) => b.schemes.map((s) => [`${s}:`, b] as const)));

function optionsOf(backends: readonly Backend[]): Map<string, TargetOption> {
  const all = new Map<string, TargetOption>();
  for (const b of backends) {
    for (const [key, option] of Object.entries(b.options)) {
      const seen = all.get(key);
      // One key, one meaning: a key two backends take must be the same declaration.
      if (seen !== undefined && seen !== option) throw new Error(`internal: target key "${key}" is declared twice with different meanings`);
      all.set(key, option);
    }
  }
  return all;
}

const OPTIONS = optionsOf(BACKENDS);

/**
 * The config file's schema of one target: `url` and every backend's keys (strict, so an
 * unknown key is named with the closest known one). Which keys fit which backend is checked
 * when the target is created (createTarget), where the URL says which backend it is.
 */
export const targetSchema = z.strictObject({
  url: z.string().min(1, 'must not be empty'),
  bwlimit: bwlimitSchema.optional(),
  ...Object.fromEntries([...OPTIONS].map(([key, o]) => [key, o.schema.optional()])),
}) as unknown as z.ZodType<TargetSpec>;

/** Keys whose value is a secret, and keys naming a file that holds one. */
export const SECRET_KEYS: readonly string[] = [...OPTIONS].filter(([, o]) => o.secret === 'value').map(([k]) => k);
export const SECRET_FILE_KEYS: readonly string[] = [...OPTIONS].filter(([, o]) => o.secret === 'file').map(([k]) => k);
/** Keys holding a file path, resolved against the config file's folder. */
export const PATH_KEYS: readonly string[] = [...OPTIONS].filter(([, o]) => o.path === true).map(([k]) => k);

/** Parse a target URL; a bare path becomes file:// (relative paths against the cwd). */
export function parseTargetUrl(raw: string): URL {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    return pathToFileURL(resolve(raw));
  }
  try {
    return new URL(raw);
  } catch {
    throw new TargetError('E_CONFIG', `target url ${redactUrl(raw)} is not a valid URL: write it as scheme://user@host:port/path or a plain folder path (a password with @ : / # % or spaces in it: percent-encode them, or give it as password: or passwordFile:)`);
  }
}

export function supportedSchemes(): string[] {
  return BACKENDS.flatMap((b) => b.schemes);
}

/** The backend a URL names; E_CONFIG when no backend takes its scheme. */
export function backendFor(url: URL): Backend {
  const backend = BY_SCHEME.get(url.protocol);
  if (backend === undefined) {
    throw new TargetError('E_CONFIG', `target url scheme ${url.protocol}// is not supported: use one of ${supportedSchemes().map((s) => s + '://').join(', ')} or a plain folder path`);
  }
  return backend;
}

/**
 * Checks the settings against the backend the URL names (its keys only, each valid), applies
 * its defaults, and builds the target. Errors are E_CONFIG and name the key and the fix.
 */
export function createTarget(spec: TargetSpec): Target {
  const url = parseTargetUrl(spec.url);
  const backend = backendFor(url);
  const where = `target ${redactUrl(spec.url)}`;
  const given = Object.entries(spec).filter(([key, value]) => key !== 'url' && !ENGINE_KEYS.includes(key) && value !== undefined);
  for (const [key] of given) {
    if (key in backend.options) continue;
    const owners = BACKENDS.filter((b) => key in b.options).map((b) => b.name);
    throw new TargetError('E_CONFIG', `${where}: key "${key}" does not apply to ${backend.name}${owners.length > 0 ? ` (it is a key of ${owners.join(', ')})` : ''}: remove it`);
  }
  const values: Record<string, unknown> = { ...backend.defaults };
  for (const [key, value] of given) {
    const parsed = backend.options[key]!.schema.safeParse(value);
    if (!parsed.success) throw new TargetError('E_CONFIG', `${where}: ${key}: ${parsed.error.issues[0]?.message ?? 'not valid'}`);
    values[key] = parsed.data;
  }
  return backend.create({ ...values, url: spec.url }, url);
}

/** The targets part of `--help`: each backend's URL form and keys, from the declarations. */
export function targetsHelp(): string {
  const lines = ['Targets (DEST, or `url:` of a target in the config file) and their keys:'];
  lines.push('  every target', `      ${'bwlimit'.padEnd(15)} upload bandwidth limit: 10M, 512k (bytes per second), off, or a timetable "08:00,512k 19:00,off"`);
  for (const b of BACKENDS) {
    lines.push(`  ${b.urlForm}`);
    for (const [key, o] of Object.entries(b.options)) lines.push(`      ${key.padEnd(15)} ${o.help}${o.secret === 'value' ? ' (never shown)' : o.secret === 'file' ? ' (its content is never shown)' : ''}`);
  }
  return lines.join('\n');
}

export type { OptionShape };
