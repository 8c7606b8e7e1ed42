/**
 * Reading what rsync prints (pure, table-tested in rsync-output.test.ts): the per-file lines
 * of `--out-format='%i %n'` (`-ii`: unchanged entries too), `--list-only` listings, and the
 * error lines that name a path. rsync writes a byte that is not printable as `\#ooo` (octal)
 * and, with `-8`, bytes above 127 as they are; names come back as our escaped-byte strings
 * (core/names.ts).
 */
import { decodeName } from '../../core/names.ts';
import type { EntryKind } from '../../core/entry.ts';

/** Undoes rsync's `\#ooo` escapes and decodes the bytes as a name. */
export function unescapeName(raw: Buffer): string {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x5c && raw[i + 1] === 0x23 && i + 4 < raw.length + 0 && /^[0-7]{3}$/.test(raw.toString('latin1', i + 2, i + 5))) {
      out.push(parseInt(raw.toString('latin1', i + 2, i + 5), 8));
      i += 4;
    } else {
      out.push(b);
    }
  }
  return decodeName(Buffer.from(out));
}

/** Output split in lines (as bytes: names need not be UTF-8). */
export function lines(out: Buffer): Buffer[] {
  const result: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 0x0a) {
      if (i > start) result.push(out.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < out.length) result.push(out.subarray(start));
  return result;
}

export interface Itemized {
  /** The 11 characters of `%i`: `>f+++++++++`, `cd+++++++++`, `*deleting  `, `.d         `. */
  readonly change: string;
  /** The path, without the trailing `/` rsync adds to directories. */
  readonly path: string;
}

const ITEMIZE = /^([<>ch.*][fdLDS ][ .+?a-zA-Z]{9}|\*deleting {2}) /;

/** The per-file lines of `--out-format='%i %n'`; other lines (warnings, notes) are left out. */
export function parseItemized(out: Buffer): Itemized[] {
  const result: Itemized[] = [];
  for (const line of lines(out)) {
    const head = line.toString('latin1', 0, 12);
    const m = ITEMIZE.exec(head);
    if (!m) continue;
    let name = line.subarray(12);
    if (name.length > 1 && name[name.length - 1] === 0x2f) name = name.subarray(0, name.length - 1);
    const path = unescapeName(name);
    result.push({ change: m[1]!, path: path === '.' ? '' : path });
  }
  return result;
}

export interface Listed {
  readonly path: string;
  readonly kind: EntryKind;
  readonly size: number;
  readonly mtimeMs: number;
  readonly linkTarget?: string;
}

const LISTING = /^([-dlcbps])[-rwxsStT]{9}\s+([\d,]+) (\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d) /;

/**
 * `--list-only` lines: `drwxr-xr-x          4,096 2026/12/03 13:01:44 name` (sizes may carry
 * digit grouping; the time is the client's local time, to the second). Devices, FIFOs and
 * sockets are left out. A link line is `name -> target`.
 */
export function parseListing(out: Buffer): Listed[] {
  const result: Listed[] = [];
  for (const line of lines(out)) {
    const head = line.toString('latin1', 0, Math.min(line.length, 80));
    const m = LISTING.exec(head);
    if (!m) continue;
    const type = m[1]!;
    const kind: EntryKind | undefined = type === '-' ? 'file' : type === 'd' ? 'dir' : type === 'l' ? 'symlink' : undefined;
    if (kind === undefined) continue;
    let name = line.subarray(m[0].length);
    let linkTarget: string | undefined;
    if (kind === 'symlink') {
      const arrow = name.indexOf(' -> ');
      if (arrow >= 0) {
        linkTarget = unescapeName(name.subarray(arrow + 4));
        name = name.subarray(0, arrow);
      }
    }
    const path = unescapeName(name);
    const mtimeMs = new Date(+m[3]!, +m[4]! - 1, +m[5]!, +m[6]!, +m[7]!, +m[8]!).getTime();
    result.push({ path: path === '.' ? '' : path, kind, size: Number(m[2]!.replace(/,/g, '')), mtimeMs, ...(linkTarget !== undefined ? { linkTarget } : {}) });
  }
  return result;
}

export interface PathError {
  /** The quoted path as rsync printed it (decoded), with an rsync temp name turned back into its file. */
  readonly quoted: string;
  /** errno when the line ends with one (`(13)`), else undefined. */
  readonly errno: number | undefined;
  /** `sender`, `receiver`, `generator`, or '' when the line does not say. */
  readonly role: string;
  readonly line: string;
}

const QUOTED = /"((?:[^"\\]|\\.)*)"/;

/**
 * rsync's error and warning lines that name a path: `rsync: [receiver] mkstemp "…/.f.AbCdEf"
 * failed: Permission denied (13)`, `file has vanished: "…"`, `cannot delete non-empty
 * directory: d`. Lines that name no path are returned with `quoted` ''.
 */
export function parseErrors(stderr: Buffer): PathError[] {
  const result: PathError[] = [];
  for (const raw of lines(stderr)) {
    const line = raw.toString('latin1');
    const notEmpty = /^cannot delete non-empty directory: (.*)$/.exec(line);
    if (notEmpty) {
      result.push({ quoted: unescapeName(raw.subarray(raw.length - Buffer.byteLength(notEmpty[1]!, 'latin1'))), errno: 39, role: 'generator', line: line });
      continue;
    }
    if (!/^(rsync:|rsync error:|file has vanished|ERROR|@ERROR|WARNING)/.test(line) && !/failed: .*\(\d+\)$/.test(line)) continue;
    if (/^rsync error:|^rsync warning:/.test(line)) continue; // the summary line: the exit code says it
    const role = /\[(sender|receiver|generator|client|server)\]/.exec(line)?.[1] ?? '';
    const errno = /\((\d+)\)\s*$/.exec(line)?.[1];
    const q = QUOTED.exec(line);
    let quoted = '';
    if (q) {
      const start = line.indexOf(q[0]) + 1;
      quoted = untemp(unescapeName(raw.subarray(start, start + Buffer.byteLength(q[1]!, 'latin1'))));
    }
    result.push({ quoted, errno: errno === undefined ? undefined : Number(errno), role, line: line });
  }
  return result;
}

/** rsync's temp name for `dir/name` is `dir/.name.XXXXXX`: the file it stands for. */
function untemp(path: string): string {
  const m = /^(.*\/)?\.(.+)\.[A-Za-z0-9]{6}$/s.exec(path);
  return m ? `${m[1] ?? ''}${m[2]}` : path;
}

/**
 * The item a printed path names: the longest item path that the printed one is, or ends
 * with after a `/` (rsync prints absolute, module-relative or transfer-relative paths).
 */
export function matchItem(quoted: string, paths: readonly string[]): number {
  let best = -1;
  let bestLen = -1;
  const q = quoted.replace(/\/+$/, '');
  for (let i = 0; i < paths.length; i++) {
    const p = paths[i]!;
    if ((q === p || q.endsWith('/' + p)) && p.length > bestLen) {
      best = i;
      bestLen = p.length;
    }
  }
  return best;
}
