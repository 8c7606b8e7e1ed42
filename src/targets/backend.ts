/**
 * How a backend declares itself (rclone's RegInfo habit): its URL schemes, the option keys it
 * takes (each a zod schema, help text, and whether it is a secret or a file path), its
 * defaults and its factory. Everything else is derived from the declarations (registry.ts):
 * the config file's target schema, key errors with "did you mean" hints, the refusal of a
 * key that belongs to another backend, secret masking in logs, errors and status, relative
 * paths resolved against the config file, and the targets part of `--help`.
 *
 * Adding a backend: a folder with its target and a `backend.ts` exporting one declaration,
 * listed in registry.ts. A key that several backends take is declared once (common-options.ts)
 * and shared, so one key never means two things.
 */
import type { z } from 'zod';
import type { Target } from './target.ts';

export interface TargetOption {
  readonly schema: z.ZodType;
  /** One line for `--help` and docs. */
  readonly help: string;
  /**
   * 'value': the value is a secret; 'file': it names a file whose content is one. Either way
   * the secret is masked wherever a log line, error or status could show it.
   */
  readonly secret?: 'value' | 'file';
  /** The value is a file path: relative to the config file that names it. */
  readonly path?: boolean;
}

export type OptionShape = Readonly<Record<string, TargetOption>>;

/** The target settings a factory receives: its own keys, validated, defaults applied. */
export type SpecOf<O extends OptionShape> = { readonly url: string } & { readonly [K in keyof O]?: z.infer<O[K]['schema']> };

export interface Backend<O extends OptionShape = OptionShape> {
  /** For messages: "FTP/FTPS", "SFTP", "a local folder". */
  readonly name: string;
  /** URL schemes without the colon ('ftp', 'ftps'). A plain path is `file`. */
  readonly schemes: readonly string[];
  /** How its URL is written, for help and errors. */
  readonly urlForm: string;
  readonly options: O;
  /** Values used when a key is not set (applied before `create`). */
  readonly defaults?: { readonly [K in keyof O]?: z.infer<O[K]['schema']> };
  create(spec: SpecOf<O>, url: URL): Target;
}

/** Declares a backend; the identity function that gives the declaration its types. */
export function defineBackend<O extends OptionShape>(backend: Backend<O>): Backend<O> {
  return backend;
}
