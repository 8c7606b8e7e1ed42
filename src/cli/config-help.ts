/**
 * `sync-inotify help config`: every configuration key with its default and what it does
 * (README, "Configuration"). The top-level and sync keys are typed against the zod schema
 * (src/config/schema.ts): a key added there without a line here does not compile. The target
 * keys and their per-target defaults come from the backends' declarations (registry.ts), like
 * `--help`'s targets part. The defaults shown are the constants the code uses.
 */
import type { ConfigFile, SyncConfig } from '../config/schema.ts';
import { TOP_TYPES } from '../config/schema.ts';
import { DEFAULT_DEBOUNCE_MAX_MS, DEFAULT_DEBOUNCE_MS, DEFAULT_RESCAN_SEC } from '../engine/sync-runner.ts';
import { BACKENDS } from '../targets/registry.ts';

interface KeyDoc {
  /** What the value looks like. */
  readonly type: string;
  /** The default, in words ('required' when there is none). */
  readonly default: string;
  readonly help: string;
}

/** Every top-level key of the configuration file (the mapped type makes the list complete). */
export const TOP_KEYS: { readonly [K in keyof Required<ConfigFile>]: KeyDoc } = {
  name: { type: 'letters, digits, . _ -', default: 'sync-inotify (the quick form); the file name for an original settings file', help: 'instance name: names the default state file, pid file, control socket and log folder' },
  state: { type: 'path', default: '/var/lib/sync-inotify/<name>.db as root, else $XDG_STATE_HOME/sync-inotify/<name>.db', help: 'the state store (SQLite); one process per state file' },
  debounceMs: { type: 'ms, 0–60000', default: String(DEFAULT_DEBOUNCE_MS), help: 'quiet window before a batch of changes is sent' },
  debounceMaxMs: { type: 'ms, 1–600000', default: String(DEFAULT_DEBOUNCE_MAX_MS), help: 'a busy file is still sent this long after its first change' },
  rescanIntervalSec: { type: 'seconds', default: String(DEFAULT_RESCAN_SEC), help: 'periodic local rescan, the backstop for lost events (0 = off)' },
  verifyIntervalSec: { type: 'seconds', default: '0 (off)', help: 'periodic full verification of every target: list it all, repair drift' },
  watcher: { type: 'native | inotify | fswatch | nsfw', default: 'native', help: 'native and fswatch: fs.watch per directory; inotify: our inotify binding, opt-in (files closed after writing sent at once; fs.watch when it was not built); nsfw: the nsfw addon' },
  debug: { type: 'boolean', default: 'false', help: 'log every detail (to daily.log.debug instead of daily.log)' },
  log: { type: 'terminal | folder/ | file', default: '/var/log/<name>/daily.log as root, else $XDG_STATE_HOME/sync-inotify/log/<name>/ (run: the terminal or journal)', help: 'where the log goes; rotated at local midnight' },
  metrics: { type: 'port, host:port or true', default: 'off', help: 'serve Prometheus metrics at /metrics (README, "Metrics"); a bare port or true (9464) listens on loopback only' },
  pidFile: { type: 'path', default: '/var/run/<name>.pid as root, else $XDG_RUNTIME_DIR/sync-inotify/<name>.pid', help: 'pid file; the control socket is next to it (<name>.sock)' },
  syncs: { type: 'list', default: 'required', help: 'the source folders, each with its targets (keys below)' },
};

/** Every key of one entry of `syncs:`. */
export const SYNC_KEYS: { readonly [K in keyof Required<SyncConfig>]: KeyDoc } = {
  source: { type: 'path', default: 'required', help: 'the folder to mirror' },
  exclude: { type: 'list of globs', default: '[]', help: 'paths not mirrored (gitignore dialect)' },
  include: { type: 'list of globs', default: '[] (everything)', help: 'when given, only matching files are mirrored' },
  fileTypes: { type: `list of ${TOP_TYPES.join(' ')}`, default: '(any)', help: 'only files of these top-level MIME types, sniffed from the content' },
  extensions: { type: 'list like jpg', default: '(any)', help: 'only files with these extensions' },
  ignoreEditorFiles: { type: 'boolean', default: 'true', help: 'skip editor litter: *.swp, 4913, *~, .#*' },
  maxDelete: { type: 'count or "N%"', default: '(no limit)', help: 'halt instead of deleting more than this in one go (allow-delete confirms)' },
  deleteExtraneous: { type: 'boolean', default: 'false', help: 'remove a vanished directory with one recursive call where the target can' },
  targets: { type: 'list', default: 'required', help: 'where to mirror to: url: and the keys of its kind of target (below)' },
};

function table(keys: Record<string, KeyDoc>, indent: string): string[] {
  return Object.entries(keys).flatMap(([key, d]) => [`${indent}${key}: ${d.type}`, `${indent}    ${d.help}`, `${indent}    default: ${d.default}`]);
}

/** The target keys: which targets take each, its help and each target's default. */
function targetKeys(): string[] {
  const keys = new Map<string, { help: string; takenBy: string[]; defaults: string[] }>();
  for (const b of BACKENDS) {
    for (const [key, o] of Object.entries(b.options)) {
      const k = keys.get(key) ?? { help: o.help, takenBy: [], defaults: [] };
      k.takenBy.push(b.name);
      const d = (b.defaults as Record<string, unknown> | undefined)?.[key];
      if (d !== undefined) k.defaults.push(`${b.name} ${JSON.stringify(d)}`);
      keys.set(key, k);
    }
  }
  const out = ['      url: a folder, file:///path, ftp://user@host/path, sftp://…, webdav(s)://…, s3://bucket/prefix', '          where to mirror to (the forms are in --help)', '          default: required'];
  for (const [key, k] of keys) {
    out.push(`      ${key}: ${k.help}`);
    out.push(`          for: ${k.takenBy.join(', ')}`);
    out.push(`          default: ${k.defaults.length > 0 ? k.defaults.join('; ') : '(none)'}`);
  }
  return out;
}

export function configHelp(): string {
  return [
    'Configuration file keys (YAML; relative paths are relative to the file):',
    '',
    ...table(TOP_KEYS, '  '),
    '',
    'Each entry of syncs:',
    ...table(SYNC_KEYS, '    '),
    '',
    'Each entry of targets:',
    ...targetKeys(),
    '',
  ].join('\n');
}
