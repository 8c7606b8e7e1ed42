/**
 * Directory listings and MLST facts → RemoteEntry. Only MLSD/MLST times are kept: RFC 3659
 * fixes them to UTC with seconds, while LIST dates are for humans (local time zone, no year or
 * no time of day), so with LIST `mtimeMs` is left out rather than guessed.
 */
import { FileType, type FileInfo } from 'basic-ftp';
import { joinPath } from '../../core/paths.ts';
import type { RemoteEntry } from '../target.ts';
import { fromWire } from './wire.ts';

/**
 * A listing row (read on a latin1 session, wire.ts) as an entry under `dir`; undefined for
 * '.', '..', odd names and unknown kinds.
 */
export function entryFromFileInfo(dir: string, info: FileInfo): RemoteEntry | undefined {
  const name = fromWire(info.name);
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return undefined;
  const path = joinPath(dir, name);
  const mtimeMs = info.modifiedAt !== undefined && !Number.isNaN(info.modifiedAt.getTime()) ? info.modifiedAt.getTime() : undefined;
  const withTime = mtimeMs === undefined ? {} : { mtimeMs };
  switch (info.type) {
    case FileType.File:
      return { path, kind: 'file', size: info.size, ...withTime };
    case FileType.Directory:
      return { path, kind: 'dir', size: 0, ...withTime };
    case FileType.SymbolicLink:
      return { path, kind: 'symlink', size: 0, ...withTime, ...(info.link ? { linkTarget: fromWire(info.link) } : {}) };
    default:
      return undefined;
  }
}

/** "YYYYMMDDHHMMSS[.sss]" (UTC, RFC 3659) → ms, or undefined when malformed. */
export function parseMlsxTime(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = frac === undefined ? 0 : Number(frac.padEnd(3, '0'));
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
}

/** ms → "YYYYMMDDHHMMSS" in UTC for MFMT (whole seconds: what servers store). */
export function formatMfmtTime(mtimeMs: number): string {
  const d = new Date(Math.floor(mtimeMs / 1000) * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/**
 * The reply to `MLST path`: "250-…\r\n type=file;size=5;modify=…; /path\r\n250 End". Returns
 * the entry for `path` (relative), or undefined when the reply has no fact line.
 */
export function entryFromMlst(path: string, reply: string): RemoteEntry | undefined {
  const line = reply.split(/\r?\n/).find((l) => l.startsWith(' '));
  if (line === undefined) return undefined;
  const factsEnd = line.indexOf(' ', 1);
  const factText = factsEnd < 0 ? line.slice(1) : line.slice(1, factsEnd);
  const facts = new Map<string, string>();
  for (const part of factText.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) facts.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1));
  }
  const type = (facts.get('type') ?? '').toLowerCase();
  const modify = facts.get('modify');
  const mtimeMs = modify === undefined ? undefined : parseMlsxTime(modify);
  const withTime = mtimeMs === undefined ? {} : { mtimeMs };
  if (type === 'file') return { path, kind: 'file', size: Number(facts.get('size') ?? 0), ...withTime };
  if (type === 'dir' || type === 'cdir' || type === 'pdir') return { path, kind: 'dir', size: 0, ...withTime };
  if (type.startsWith('os.unix=symlink') || type.startsWith('os.unix=slink')) {
    const target = type.startsWith('os.unix=slink:') ? facts.get('type')?.slice('os.unix=slink:'.length) : undefined;
    return { path, kind: 'symlink', size: 0, ...withTime, ...(target ? { linkTarget: target } : {}) };
  }
  return undefined;
}

/**
 * The directory in a reply to PWD: `257 "/a/b" is the current directory`. Both vsftpd and
 * pure-ftpd answer with getcwd(), i.e. with every symbolic link resolved, which is what the
 * jail check compares (see ftp-target.ts). RFC 959 doubles a quote inside the name, but
 * pure-ftpd does not (`257 "/qu'o"te" is your current location`), so both readings are
 * returned: the text up to the last quote that ends the name, as is and with `""` undoubled.
 * Empty when the reply carries no quoted name.
 */
export function directoriesFromPwd(reply: string): string[] {
  const m = /^257 "(.*)"(?:\s|$)/s.exec(reply.trim());
  if (m === null) return [];
  const raw = m[1]!;
  const undoubled = raw.replace(/""/g, '"');
  return undoubled === raw ? [raw] : [raw, undoubled];
}
