/**
 * File names are bytes on Linux; our paths are JS strings. Node decodes names as UTF-8 and
 * replaces every invalid byte with U+FFFD, which loses the name: the file can no longer be
 * opened, and two names can become one. This module keeps them exactly, with Python's
 * "surrogateescape" mapping (PEP 383):
 *
 *  - decoding: valid UTF-8 decodes as usual; each byte that is not part of a valid UTF-8
 *    sequence (a stray continuation byte, a truncated sequence, an overlong form, an encoded
 *    surrogate, 0xF5-0xFF) becomes the lone surrogate U+DC00 + byte: U+DC80-U+DCFF, since
 *    an invalid byte is always 0x80 or above.
 *  - encoding: the inverse. Lone surrogates U+DC80-U+DCFF become their byte again; every
 *    other code point is written as UTF-8.
 *
 * It is a bijection between byte strings and the strings decoding produces, because valid
 * UTF-8 never decodes to a lone surrogate (and an emoji's low surrogate, which may lie in
 * U+DC80-U+DCFF, is paired, so the `u`-flag regexes below do not see it).
 *
 * Contract for the rest of the engine: an internal path is a decoded string; it is turned back
 * into bytes only at a local file system call (`toFsPath`), in the state store (which escapes
 * the lone surrogates SQLite would mangle, see sqlite-store.ts), and by targets that can carry
 * bytes. Targets that cannot refuse such a name per path (E_NAME), never silently.
 */

/** A lone surrogate standing for one raw byte (u flag: surrogate pairs do not match). */
const ESCAPED_BYTE = /[\udc80-\udcff]/u;
const ESCAPED_BYTES = /[\udc80-\udcff]/gu;
/** Any such low surrogate, paired or not: a cheaper first test (half the time on plain paths). */
const LOW_SURROGATE = /[\udc80-\udcff]/;

/** True when `s` holds a byte that is not valid UTF-8 (an escaped byte). */
export function hasEscapedBytes(s: string): boolean {
  return LOW_SURROGATE.test(s) && ESCAPED_BYTE.test(s);
}

/**
 * Decodes a name (or a whole path, or a link target) read from the file system as bytes.
 * The common case costs one `toString`: only a result with U+FFFD in it is decoded again by
 * hand (U+FFFD is also a valid character of its own, which is then kept as such).
 */
export function decodeName(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fast = buf.toString('utf8');
  return fast.includes('\ufffd') ? decodeEscaping(buf) : fast;
}

function escapeByte(b: number): string {
  return String.fromCharCode(0xdc00 + b);
}

/** Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF. */
function decodeEscaping(b: Uint8Array): string {
  let out = '';
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    // Length of the sequence and the allowed range of its second byte (Unicode table 3-7).
    let len = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    }
    let ok = len > 0 && i + len <= n;
    if (ok) {
      const c1 = b[i + 1]!;
      ok = c1 >= lo && c1 <= hi;
      for (let k = 2; ok && k < len; k++) {
        const ck = b[i + k]!;
        ok = ck >= 0x80 && ck <= 0xbf;
      }
    }
    if (!ok) {
      // Only the first byte is escaped: what follows is decoded afresh (a stray byte before a
      // valid character leaves the character intact).
      out += escapeByte(c);
      i++;
      continue;
    }
    let cp = len === 2 ? c & 0x1f : len === 3 ? c & 0x0f : c & 0x07;
    for (let k = 1; k < len; k++) cp = (cp << 6) | (b[i + k]! & 0x3f);
    out += String.fromCodePoint(cp);
    i += len;
  }
  return out;
}

/**
 * The bytes of an internal name or path. Lone surrogates outside U+DC80-U+DCFF never come
 * out of decodeName; should one get here, it is written as U+FFFD, as Node would.
 */
export function encodeName(s: string): Buffer {
  if (!hasEscapedBytes(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let last = 0;
  for (const m of s.matchAll(ESCAPED_BYTES)) {
    parts.push(Buffer.from(s.slice(last, m.index), 'utf8'), Buffer.of(m[0].charCodeAt(0) - 0xdc00));
    last = m.index + 1;
  }
  parts.push(Buffer.from(s.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

/**
 * What to hand a local fs call for an internal (absolute) path: the string itself when it is
 * plain UTF-8 (the fast path: no copy), else its bytes as a Buffer.
 */
export function toFsPath(path: string): string | Buffer {
  return hasEscapedBytes(path) ? encodeName(path) : path;
}

/**
 * Keeps the names of a listing exactly: `names` were read as strings (fast); only a listing
 * with a U+FFFD among them is read again as bytes (`reread`) and decoded with the mapping.
 * Returns `names` itself when nothing was read again.
 */
export function decodeNames(names: string[], reread: () => Buffer[]): string[] {
  for (const name of names) if (name.includes('\ufffd')) return reread().map(decodeName);
  return names;
}

/**
 * A path quoted for logs and command output: JSON string syntax, except that an escaped byte
 * shows as `\xff` (as bash's $'…' writes it) instead of JSON's `\udcff`. The same in every
 * log line, error message and `check` line.
 */
export function quotePath(path: string): string {
  const json = JSON.stringify(path);
  if (!json.includes('\\udc')) return json;
  // `\\` pairs are consumed first, so a literal backslash followed by "udc80" stays as it is.
  return json.replace(/\\(\\|udc([89a-f][0-9a-f]))/g, (m, _c: string, hex: string | undefined) => (hex !== undefined ? `\\x${hex}` : m));
}
