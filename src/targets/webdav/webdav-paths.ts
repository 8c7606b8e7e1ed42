/**
 * Target paths ↔ request paths. Every segment is percent-encoded on its own (a name may hold
 * `#`, `?`, `%` or a space), and a collection always ends with a slash: nginx refuses MKCOL,
 * DELETE and MOVE of a collection without one (409), Apache redirects.
 *
 * Servers write hrefs in a multistatus body in their own encoding (Apache leaves `&` and `'`
 * alone, nginx escapes more; some send absolute URLs): `hrefSegments` decodes any of them
 * into segments, which are compared, never the encoded text.
 */

import { decodeName, encodeName, hasEscapedBytes } from '../../core/names.ts';

/**
 * Encode one name the way every server decodes it (RFC 3986 pchar minus the sub-delims we
 * avoid). A name that is not valid UTF-8 (core/names.ts) is sent as its bytes, each
 * percent-encoded: HTTP paths carry bytes.
 */
export function encodeSegment(name: string): string {
  if (hasEscapedBytes(name)) {
    let out = '';
    for (const b of encodeName(name)) out += UNRESERVED.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    return out;
  }
  return encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * One href segment back to a name: percent-escapes are bytes, and bytes that are not UTF-8
 * are kept (core/names.ts). Undefined for a `%` that starts no escape.
 */
function decodeSegment(segment: string): string | undefined {
  if (!segment.includes('%')) return segment;
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; ) {
    if (segment[i] === '%') {
      if (!/^[0-9a-fA-F]{2}$/.test(segment.slice(i + 1, i + 3))) return undefined;
      bytes.push(parseInt(segment.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const cp = segment.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    bytes.push(...Buffer.from(ch, 'utf8'));
    i += ch.length;
  }
  return decodeName(Buffer.from(bytes));
}

/** The request path of `path` (relative to the root); `collection` adds the trailing slash. */
export function requestPath(rootSegments: readonly string[], path: string, collection: boolean): string {
  const segments = path === '' ? [...rootSegments] : [...rootSegments, ...path.split('/')];
  const joined = '/' + segments.map(encodeSegment).join('/');
  if (!collection) return joined;
  return joined.endsWith('/') ? joined : `${joined}/`;
}

/** Decoded segments of an href (a path or an absolute URL); undefined when it does not decode. */
export function hrefSegments(href: string): string[] | undefined {
  let pathname = href;
  if (!href.startsWith('/')) {
    // An absolute URL. A path is taken as it is: URL parsing would read a raw `\` as `/`.
    try {
      pathname = new URL(href).pathname;
    } catch {
      return undefined;
    }
  }
  const segments = pathname
    .split('/')
    .filter((s) => s !== '')
    .map(decodeSegment);
  return segments.every((s) => s !== undefined) ? (segments as string[]) : undefined;
}

/**
 * The path, relative to the target root, that an href names; undefined when it is not under
 * the root. `''` is the root itself.
 */
export function relativeFromHref(rootSegments: readonly string[], href: string): string | undefined {
  const segs = hrefSegments(href);
  if (segs === undefined || segs.length < rootSegments.length) return undefined;
  for (let i = 0; i < rootSegments.length; i++) if (segs[i] !== rootSegments[i]) return undefined;
  return segs.slice(rootSegments.length).join('/');
}
