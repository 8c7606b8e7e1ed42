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

export function createPathFilter(options: FilterOptions): PathFilter {
  const excluded: Ignore = ignore().add([...(options.exclude ?? [])]);
  if (options.ignoreEditorFiles ?? true) excluded.add(EDITOR_LITTER);
  const included: Ignore | undefined = options.include && options.include.length > 0 ? ignore().add([...options.include]) : undefined;
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
