/**
 * The configuration file's schema (README: Configuration). Strict objects: an unknown key is an error
 * that names the key and the closest known one (see load.ts).
 */
import { z } from 'zod';
import { parseListenAddress } from '../core/listen-address.ts';
import { parseMaxDelete } from '../core/safety.ts';
import { targetSchema } from '../targets/registry.ts';

const positiveInt = z.number().int().positive();

export const TOP_TYPES = ['application', 'audio', 'example', 'font', 'image', 'message', 'model', 'multipart', 'text', 'video'] as const;

export const syncSchema = z.strictObject({
  source: z.string().min(1, 'must not be empty'),
  exclude: z.array(z.string()).optional(),
  include: z.array(z.string()).optional(),
  fileTypes: z.array(z.enum(TOP_TYPES)).optional(),
  extensions: z.array(z.string().regex(/^\.?[^/\\]+$/, 'an extension like "jpg"')).optional(),
  ignoreEditorFiles: z.boolean().optional(),
  maxDelete: z
    .union([z.number().int().nonnegative(), z.string()])
    .refine((v) => parseMaxDelete(v) !== undefined, 'must be a count like 100 or a percentage like "10%"')
    .optional(),
  deleteExtraneous: z.boolean().optional(),
  targets: z.array(targetSchema).min(1, 'list at least one target'),
});

export const configSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only').optional(),
  state: z.string().optional(),
  debounceMs: z.number().int().nonnegative().max(60_000).optional(),
  debounceMaxMs: positiveInt.max(600_000).optional(),
  rescanIntervalSec: z.number().int().nonnegative().optional(),
  /** Full verification of every target (list it all, repair drift) this often; 0 = off. */
  verifyIntervalSec: z.number().int().nonnegative().optional(),
  /**
   * Which inotify watcher (src/watch/choose-watcher.ts): `native` (the default) and `fswatch`,
   * our watcher over Node's per-directory fs.watch; `inotify` (opt-in), our own inotify binding
   * when it was built at install, else that fs.watch watcher; or `nsfw`, whose native thread
   * polls every 50 ms. Ours skip excluded directories and deliver events within a millisecond.
   */
  watcher: z.enum(['nsfw', 'native', 'inotify', 'fswatch']).optional(),
  debug: z.boolean().optional(),
  log: z.string().optional(),
  pidFile: z.string().optional(),
  /** Prometheus endpoint (README: Metrics): off by default; a bare port listens on loopback. */
  metrics: z
    .union([z.boolean(), z.number(), z.string()])
    .superRefine((v, ctx) => {
      const r = parseListenAddress(v);
      if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message });
    })
    .optional(),
  syncs: z.array(syncSchema).min(1, 'list at least one sync'),
});

export type SyncConfig = z.infer<typeof syncSchema>;
export type ConfigFile = z.infer<typeof configSchema>;
