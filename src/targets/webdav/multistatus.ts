/**
 * 207 Multi-Status bodies (RFC 4918 §13): the members of a PROPFIND answer, and the failing
 * member of a DELETE, MOVE or PROPPATCH that failed in part. Pure: text in, records out.
 *
 * Namespace prefixes are dropped (Apache writes `lp1:getlastmodified`, nginx `D:`), and only
 * DAV: properties are asked for, so a bare local name is unambiguous.
 */
import type { XMLParser } from 'fast-xml-parser';
import { fastXmlParser } from './webdav-modules.ts';

export interface DavMember {
  /** The href exactly as the server wrote it (decode with webdav-paths.ts). */
  readonly href: string;
  /** HTTP status of the member itself (DELETE/MOVE failures), when given. */
  readonly status: number | undefined;
  /** Properties found with status 200 (absent when the server did not report them). */
  readonly collection: boolean;
  readonly size: number | undefined;
  readonly mtimeMs: number | undefined;
  /** Statuses of properties the server refused (PROPPATCH), by property name. */
  readonly failedProps: ReadonlyMap<string, number>;
}

let parser: XMLParser | undefined;

/** Made on first use (the module is loaded at connect: webdav-modules.ts). */
function xmlParser(): XMLParser {
  parser ??= new (fastXmlParser().XMLParser)({
    removeNSPrefix: true,
    ignoreAttributes: true,
    parseTagValue: false,
    trimValues: true,
    isArray: (name) => name === 'response' || name === 'propstat',
  });
  return parser;
}

type Node = Record<string, unknown>;

function obj(v: unknown): Node | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Node) : undefined;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** "HTTP/1.1 404 Not Found" → 404. */
export function statusLineCode(line: string | undefined): number | undefined {
  const m = line === undefined ? null : /^HTTP\/[\d.]+\s+(\d{3})/i.exec(line.trim());
  return m ? Number(m[1]) : undefined;
}

/** Parse a multistatus body; a body that is not one yields an empty list. */
export function parseMultistatus(xml: string): DavMember[] {
  let doc: Node;
  try {
    doc = xmlParser().parse(xml) as Node;
  } catch {
    return [];
  }
  const ms = obj(doc['multistatus']);
  const responses = ms?.['response'];
  if (!Array.isArray(responses)) return [];
  const out: DavMember[] = [];
  for (const r of responses) {
    const resp = obj(r);
    const href = resp === undefined ? undefined : text(resp['href']);
    if (resp === undefined || href === undefined || href === '') continue;
    let collection = false;
    let size: number | undefined;
    let mtimeMs: number | undefined;
    const failedProps = new Map<string, number>();
    for (const ps of Array.isArray(resp['propstat']) ? resp['propstat'] : []) {
      const propstat = obj(ps);
      const prop = obj(propstat?.['prop']);
      if (propstat === undefined || prop === undefined) continue;
      const code = statusLineCode(text(propstat['status']));
      if (code !== undefined && (code < 200 || code > 299)) {
        for (const name of Object.keys(prop)) failedProps.set(name, code);
        continue;
      }
      const rt = obj(prop['resourcetype']);
      if (rt !== undefined && 'collection' in rt) collection = true;
      const len = text(prop['getcontentlength']);
      if (len !== undefined && /^\d+$/.test(len)) size = Number(len);
      const lm = text(prop['getlastmodified']);
      if (lm !== undefined) {
        const t = Date.parse(lm);
        if (Number.isFinite(t)) mtimeMs = t;
      }
    }
    out.push({ href, status: statusLineCode(text(resp['status'])), collection, size, mtimeMs, failedProps });
  }
  return out;
}

/** The first member of a multistatus whose own status is not 2xx (the reason a DELETE/MOVE failed). */
export function firstFailure(members: readonly DavMember[]): DavMember | undefined {
  return members.find((m) => m.status !== undefined && (m.status < 200 || m.status > 299)) ?? members.find((m) => m.failedProps.size > 0);
}

/** PROPFIND body: the three properties a listing needs, nothing else (allprop is slow on big trees). */
export const PROPFIND_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/></D:prop></D:propfind>';

/** PROPPATCH body setting DAV:getlastmodified (Apache-style servers that let it be set). */
export function proppatchMtimeBody(mtimeMs: number): string {
  const date = new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString();
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getlastmodified>${date}</D:getlastmodified></D:prop></D:set></D:propertyupdate>`;
}
