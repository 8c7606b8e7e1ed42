/**
 * Which source paths are mirrored. Order (README: Filters): our own temp files and the state file
 * never; then `exclude` / `include` globs; then `fileTypes` / `extensions` (decided from the
 * content sniff done by the engine, see `typeVerdict`).
 *
 * Glob dialect: .gitignore, exactly (the `ignore` package, as used by eslint): `*.tmp`
 * matches at any depth, `/build` only at the root, `cache/` only directories, `**` spans
 * directories, `!pattern` re-includes. Patterns are matched against the path relative to the
 * source root. `include`, when given, keeps only files matching it (directories are always
 * walked so included files deep down are found; directories left empty are still mirrored).
 */
import ignore, { type Ignore } from 'ignore';
import { isTempName } from './temp-name.ts';
import { baseName } from './paths.ts';

/** Editors' litter, skipped when `ignoreEditorFiles` is on (the default). */
export const EDITOR_LITTER = ['*.swp', '*.swx', '*.swpx', '4913', '*~', '.#*', '#*#', '.*.kate-swp', '.goutputstream-*'];

export interface FilterOptions {
  readonly exclude?: readonly string[];
  readonly include?: readonly string[];
  readonly ignoreEditorFiles?: boolean;
  /** Relative paths never mirrored (the state store when it lives inside the source). */
  readonly alwaysExcluded?: readonly string[];
}

export interface PathFilter {
  /** False when the path (a directory: its whole subtree) is not mirrored. */
  accepts(path: string, isDir: boolean): boolean;
}

/**
 * Checks between two rebuilds of the matchers. `ignore` caches the verdict of every path (and
 * of each of its ancestors) it was asked about, for as long as the instance lives: a daemon
 * watching 100,000 files kept 100,000 cached verdicts (about 15 MB) forever, and a tree whose
 * files come and go grows it without bound. A fresh instance every few thousand checks keeps
 * the cache to what a scan of one stretch of the tree asks again (a directory's ancestors),
 * at the cost of compiling the patterns again (a fraction of a millisecond).
 */
export const FILTER_CACHE_CHECKS = 4096;

/** An `ignore` matcher rebuilt every FILTER_CACHE_CHECKS checks (see there). */
class BoundedIgnore {
  private matcher: Ignore;
  private checks = 0;
  /** Rebuilds so far (tests: the bound is applied). */
  rebuilds = 0;

  constructor(private readonly patterns: readonly string[]) {
    this.matcher = ignore().add([...patterns]);
  }

  ignores(path: string): boolean {
    if (++this.checks > FILTER_CACHE_CHECKS) {
      this.matcher = ignore().add([...this.patterns]);
      this.checks = 1;
      this.rebuilds++;
    }
    return this.matcher.ignores(path);
  }
}

export function createPathFilter(options: FilterOptions): PathFilter & { readonly matcherRebuilds: () => number } {
  const excluded = new BoundedIgnore([...(options.exclude ?? []), ...((options.ignoreEditorFiles ?? true) ? EDITOR_LITTER : [])]);
  const included = options.include && options.include.length > 0 ? new BoundedIgnore(options.include) : undefined;
  const always = new Set(options.alwaysExcluded ?? []);
  return {
    accepts(path: string, isDir: boolean): boolean {
      if (path === '') return true;
      if (always.has(path) || isTempName(baseName(path))) return false;
      const probe = isDir ? `${path}/` : path;
      if (excluded.ignores(probe)) return false;
      if (included && !isDir && !included.ignores(path)) return false;
      return true;
    },
    matcherRebuilds: () => excluded.rebuilds + (included?.rebuilds ?? 0),
  };
}

export interface TypeFilterOptions {
  /** Top-level MIME types: image, text, application, … */
  readonly fileTypes?: readonly string[];
  /** Extensions without the dot, case-insensitive. */
  readonly extensions?: readonly string[];
}

export function typeFilterActive(options: TypeFilterOptions): boolean {
  return (options.fileTypes?.length ?? 0) > 0 || (options.extensions?.length ?? 0) > 0;
}

export function extensionOf(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/**
 * The original script's rule, kept: FILE_TYPES wins over FILE_EXTENSIONS; the extension is
 * consulted only when the type could not be detected from the content.
 *   - `sniffedType`: the top-level MIME type detected from the bytes, or undefined when
 *     detection failed (empty file, unknown binary).
 *   - `extensionType`: the top-level type the extension maps to, if any.
 */
export function typeVerdict(options: TypeFilterOptions, path: string, sniffedType: string | undefined, extensionType: string | undefined): boolean {
  const types = options.fileTypes ?? [];
  const exts = (options.extensions ?? []).map((e) => e.replace(/^\./, '').toLowerCase());
  const ext = extensionOf(path);
  if (types.length > 0 && sniffedType !== undefined) return types.includes(sniffedType);
  if (exts.length > 0) return exts.includes(ext);
  if (types.length > 0) return extensionType !== undefined && types.includes(extensionType);
  return true;
}
