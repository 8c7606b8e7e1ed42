/**
 * The original ftp-inotify.py settings, unchanged: `KEY = 'value'` lines as at the top of the
 * script (Python literals: quoted strings, numbers, True/False/None; `#` comments).
 *
 *   WATCH_PATH       → syncs[0].source (required)
 *   UPLOAD_FTP_HOST  → one FTP target ftp://USER@HOST:PORT/ (HOST, USER and PASS required;
 *   UPLOAD_FTP_PORT     PORT defaults to 21); the password goes into the target's `password`
 *   UPLOAD_FTP_USER     key, never into the URL, so it is never shown or logged
 *   UPLOAD_FTP_PASS
 *   FILE_TYPES       → fileTypes (comma separated top-level MIME types; empty: all)
 *   FILE_EXTENSIONS  → extensions (comma separated; empty: all)
 *   IS_DEBUG         → debug (log file daily.log.debug, more detail)
 *   PID_FILE         → pidFile
 *   LOG_FILE         → log (None: the terminal)
 *
 * The instance name is the file's base name, as the original used the script's name: several
 * renamed copies run side by side, each with its own pid file, logs and state.
 *
 * The whole original script works too: lines that are not `UPPER_CASE = literal` at the start
 * of a line are ignored; a known key whose value is an expression is refused with the line.
 */
import { basename, dirname, resolve } from 'node:path';
import { ConfigError } from './errors.ts';
import { closest, validateConfig } from './load.ts';
import { TOP_TYPES, type ConfigFile } from './schema.ts';

export const LEGACY_KEYS = ['WATCH_PATH', 'UPLOAD_FTP_HOST', 'UPLOAD_FTP_PORT', 'UPLOAD_FTP_USER', 'UPLOAD_FTP_PASS', 'FILE_TYPES', 'FILE_EXTENSIONS', 'IS_DEBUG', 'PID_FILE', 'LOG_FILE'] as const;
type LegacyKey = (typeof LEGACY_KEYS)[number];
type Literal = string | number | boolean | null;

const KEY_LINE = /^([A-Z][A-Z0-9_]*)\s*=(?!=)\s*(.*)$/;

/** True when the text is an original settings file (or script) rather than YAML. */
export function looksLikeLegacy(text: string): boolean {
  return text.split(/\r?\n/).some((line) => {
    const m = KEY_LINE.exec(line);
    return m !== null && (LEGACY_KEYS as readonly string[]).includes(m[1]!);
  });
}

/** Parses one Python literal at the start of `src`; returns the value and the rest. */
function parseLiteral(src: string): { value: Literal; rest: string } | undefined {
  const word = /^(True|False|None)\b/.exec(src);
  if (word) return { value: word[1] === 'True' ? true : word[1] === 'False' ? false : null, rest: src.slice(word[0].length) };
  const num = /^[+-]?\d+\b(?!\.)/.exec(src);
  if (num) return { value: Number(num[0]), rest: src.slice(num[0].length) };
  const str = /^([rRuU]?)(['"])/.exec(src);
  if (!str) return undefined;
  const raw = str[1]!.toLowerCase() === 'r';
  const quote = str[2]!;
  let i = str[0].length;
  let out = '';
  while (i < src.length) {
    const c = src[i]!;
    if (c === quote) return { value: out, rest: src.slice(i + 1) };
    if (c === '\\' && i + 1 < src.length) {
      const n = src[i + 1]!;
      if (raw) out += c + n;
      else out += n === 'n' ? '\n' : n === 't' ? '\t' : n === '\\' || n === "'" || n === '"' ? n : c + n;
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
  return undefined;
}

export function parseLegacyValues(text: string, origin: string): Map<LegacyKey, Literal> {
  const values = new Map<LegacyKey, Literal>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const m = KEY_LINE.exec(line);
    if (!m) return;
    const key = m[1]!;
    if (!(LEGACY_KEYS as readonly string[]).includes(key)) {
      const near = closest(key, LEGACY_KEYS);
      // A near miss of a known key is a typo; anything else may be a constant of the script.
      if (near !== undefined && /^(WATCH|UPLOAD|FILE|IS_|PID|LOG)/.test(key)) {
        throw new ConfigError(`settings ${origin} line ${index + 1}: unknown setting ${key}; did you mean ${near}?`);
      }
      return;
    }
    const lit = parseLiteral(m[2]!.trim());
    if (!lit || !/^\s*(#.*)?$/.test(lit.rest)) {
      throw new ConfigError(`settings ${origin} line ${index + 1}: cannot read the value of ${key} (${m[2]!.trim()}): write a plain quoted string, a number, True, False or None`);
    }
    values.set(key as LegacyKey, lit.value);
  });
  return values;
}

/** The instance name from the file name: `/etc/ftp-inotify.py` → `ftp-inotify`. */
export function legacyName(file: string): string {
  const base = basename(file).replace(/\.(py|conf|cfg|ini|txt|settings)$/i, '');
  const clean = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+|-+$/g, '');
  return clean === '' ? 'sync-inotify' : clean;
}

function list(v: Literal | undefined): string[] {
  if (v === undefined || v === null || v === false) return [];
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function str(v: Literal | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = String(v);
  return s.trim() === '' ? undefined : s;
}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function legacyToConfig(text: string, file: string): ConfigFile {
  const origin = file;
  const v = parseLegacyValues(text, origin);
  const base = dirname(resolve(file));
  const watch = str(v.get('WATCH_PATH'));
  if (watch === undefined) {
    throw new ConfigError(`settings ${origin}: WATCH_PATH is not set; it must name the folder to watch, e.g. WATCH_PATH = '/srv/www'`);
  }
  const host = str(v.get('UPLOAD_FTP_HOST'));
  const user = str(v.get('UPLOAD_FTP_USER'));
  const pass = v.get('UPLOAD_FTP_PASS');
  const missing = [host === undefined ? 'UPLOAD_FTP_HOST' : '', user === undefined ? 'UPLOAD_FTP_USER' : '', pass === undefined || pass === null ? 'UPLOAD_FTP_PASS' : ''].filter((k) => k !== '');
  if (missing.length > 0) {
    throw new ConfigError(`settings ${origin}: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set; the FTP server must be defined (UPLOAD_FTP_HOST, UPLOAD_FTP_PORT, UPLOAD_FTP_USER, UPLOAD_FTP_PASS)`);
  }
  const portRaw = v.get('UPLOAD_FTP_PORT');
  const port = portRaw === undefined || portRaw === null || String(portRaw).trim() === '' ? 21 : Number(String(portRaw).trim());
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`settings ${origin}: UPLOAD_FTP_PORT must be a port number from 1 to 65535, not ${JSON.stringify(portRaw)}`);
  }
  const fileTypes = list(v.get('FILE_TYPES')).map((t) => t.toLowerCase());
  for (const t of fileTypes) {
    if (!(TOP_TYPES as readonly string[]).includes(t)) {
      throw new ConfigError(`settings ${origin}: FILE_TYPES: "${t}" is not a top-level media type; use ${TOP_TYPES.join(', ')}`);
    }
  }
  const extensions = list(v.get('FILE_EXTENSIONS')).map((e) => e.replace(/^\./, ''));
  const debug = v.get('IS_DEBUG');
  const pidFile = str(v.get('PID_FILE'));
  const logFile = v.get('LOG_FILE');
  const raw = {
    name: legacyName(file),
    ...(debug !== undefined && debug !== null ? { debug: debug === true || debug === 1 || /^(true|yes|1)$/i.test(String(debug)) } : {}),
    ...(pidFile !== undefined ? { pidFile: resolve(base, pidFile) } : {}),
    ...(logFile === null ? { log: 'terminal' } : str(logFile) !== undefined ? { log: resolve(base, String(logFile)) + (String(logFile).endsWith('/') ? '/' : '') } : {}),
    syncs: [
      {
        source: resolve(base, watch),
        ...(fileTypes.length > 0 ? { fileTypes } : {}),
        ...(extensions.length > 0 ? { extensions } : {}),
        targets: [{ url: `ftp://${encodeURIComponent(user!)}@${hostForUrl(host!)}:${port}/`, password: String(pass) }],
      },
    ],
  };
  return validateConfig(raw, origin);
}
