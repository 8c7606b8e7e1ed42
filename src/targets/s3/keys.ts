/**
 * Pure mapping between the target's relative paths and S3 object keys, and our fingerprint in
 * object metadata. S3 has objects, not folders: a directory is the prefix `dir/` of the keys
 * under it (and, with `directoryMarkers`, a zero-byte object named `dir/`).
 *
 *   s3://bucket/site/www  → bucket "bucket", key prefix "site/www"
 *   path "css/a.css"      → key "site/www/css/a.css"; the directory "css" → prefix "site/www/css/"
 */
import { isSafeRelativePath } from '../../core/paths.ts';
import { TEMP_MARKER, isTempName } from '../../core/temp-name.ts';
import { TargetError } from '../errors.ts';

export interface S3Location {
  readonly bucket: string;
  /** Key prefix of the target root without leading or trailing '/'; '' = the whole bucket. */
  readonly prefix: string;
}

/** s3://bucket[/prefix]: the bucket is the URL's host, the prefix its path. */
export function parseS3Url(url: URL): S3Location {
  if (url.username !== '' || url.password !== '') {
    throw new TargetError('E_CONFIG', `target s3://${url.host}${url.pathname}: credentials do not go in an s3:// URL: set accessKeyId and secretAccessKey (or secretAccessKeyFile)`);
  }
  if (url.port !== '') throw new TargetError('E_CONFIG', `target s3://${url.host}${url.pathname}: no port in an s3:// URL: the server goes in endpoint`);
  const bucket = url.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new TargetError('E_CONFIG', `target s3://${url.host}${url.pathname}: "${bucket}" is not a valid bucket name: write s3://bucket/prefix`);
  }
  let prefix: string;
  try {
    prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  } catch {
    throw new TargetError('E_CONFIG', `target s3://${url.host}${url.pathname}: the prefix is not valid percent-encoding`);
  }
  if (prefix !== '' && !isSafeRelativePath(prefix)) {
    throw new TargetError('E_CONFIG', `target s3://${url.host}${url.pathname}: the prefix must be a plain path (no '.', '..' or empty parts)`);
  }
  return { bucket, prefix };
}

/** The object key of `path` ('' = the root's own key, the prefix itself). */
export function keyOf(loc: S3Location, path: string): string {
  if (path === '') return loc.prefix;
  return loc.prefix === '' ? path : `${loc.prefix}/${path}`;
}

/** The key prefix of everything under directory `dir` ('' for the whole bucket). */
export function dirPrefixOf(loc: S3Location, dir: string): string {
  const key = keyOf(loc, dir);
  return key === '' ? '' : `${key}/`;
}

/**
 * The relative path of `key`, found under `under` (a dirPrefixOf). Undefined for keys that
 * no path of ours can name: a directory marker, `a//b`, `./x`, and the like.
 */
export function pathOfKey(loc: S3Location, key: string): string | undefined {
  const root = dirPrefixOf(loc, '');
  if (!key.startsWith(root)) return undefined;
  const rel = key.slice(root.length);
  return rel !== '' && isSafeRelativePath(rel) ? rel : undefined;
}

/**
 * The final name a journalled temp name stood for (`.NAME.sync-inotify-XXXXXX.tmp` → NAME in
 * the same directory), as a key-name *prefix*: long names were trimmed to fit (temp-name.ts).
 * Undefined when `path` is not one of our temp names.
 */
export function finalPrefixOfTemp(path: string): string | undefined {
  const slash = path.lastIndexOf('/');
  const base = path.slice(slash + 1);
  if (!isTempName(base)) return undefined;
  const name = base.slice(1, base.lastIndexOf(TEMP_MARKER));
  return name === '' ? undefined : path.slice(0, slash + 1) + name;
}

/**
 * Our fingerprint of an uploaded file, in its user metadata (x-amz-meta-*): a multipart
 * upload's ETag is not the MD5 of the content, so size, source mtime and SHA-256 are ours.
 */
export interface Fingerprint {
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha256: string;
}

const META = { size: 'sync-inotify-size', mtime: 'sync-inotify-mtime', sha256: 'sync-inotify-sha256' } as const;

export function fingerprintMetadata(fp: Fingerprint): Record<string, string> {
  return { [META.size]: String(fp.size), [META.mtime]: String(Math.round(fp.mtimeMs)), [META.sha256]: fp.sha256 };
}

/**
 * Reads our fingerprint back; undefined when absent, malformed, or stale (the object's size
 * is not the one we recorded: someone else rewrote it without our metadata).
 */
export function fingerprintOf(metadata: Readonly<Record<string, string | undefined>> | undefined, objectSize: number): Fingerprint | undefined {
  if (metadata === undefined) return undefined;
  // Servers return metadata names lowercased; the SDK strips x-amz-meta-.
  const get = (name: string) => metadata[name] ?? metadata[name.toLowerCase()];
  const size = Number(get(META.size));
  const mtimeMs = Number(get(META.mtime));
  const sha256 = get(META.sha256) ?? '';
  if (!Number.isSafeInteger(size) || size !== objectSize || !Number.isFinite(mtimeMs) || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  return { size, mtimeMs, sha256 };
}

/**
 * A key as a listing returns it with `encoding-type=url`, which we always ask for: without
 * it a key holding a control character makes the XML invalid (Swift answers InternalError for
 * the whole listing). AWS writes a space as '+', Swift as %20; a real '+' is %2B in both.
 */
export function decodeListedKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}
