/**
 * HTTP authentication for the WebDAV client: Basic (RFC 7617) and Digest (RFC 7616: MD5,
 * SHA-256 and their -sess forms, qop=auth). Pure except for the client nonce.
 *
 * Nothing is sent before the server asks: the first request goes out bare, a 401's
 * WWW-Authenticate picks the scheme (Digest when offered: the password never crosses the
 * wire), and from then on every request carries credentials up front. A Digest nonce is
 * reused with a growing nonce count until the server calls it stale.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parse WWW-Authenticate values (several challenges per value and several values allowed). */
export function parseChallenges(values: string | readonly string[] | undefined): Challenge[] {
  const list = values === undefined ? [] : typeof values === 'string' ? [values] : values;
  const out: Challenge[] = [];
  for (const value of list) {
    // token ( token68 | #auth-param ), challenges separated by commas.
    const re = /\s*,?\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?/gy;
    let current: { scheme: string; params: Record<string, string> } | undefined;
    let m: RegExpExecArray | null;
    while ((m = re.exec(value)) !== null && m[0] !== '') {
      const [, token, quoted, bare] = m;
      if (quoted === undefined && bare === undefined) {
        current = { scheme: token!.toLowerCase(), params: {} };
        out.push(current);
      } else if (current !== undefined) {
        current.params[token!.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!;
      }
    }
  }
  return out;
}

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

const HASHES: Record<string, string> = { md5: 'md5', 'md5-sess': 'md5', 'sha-256': 'sha256', 'sha-256-sess': 'sha256' };

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** A Digest session: one server challenge, used for many requests. */
export class DigestSession {
  private nc = 0;
  private readonly hash: string;
  private readonly algorithm: string;

  constructor(
    private readonly challenge: Challenge,
    private readonly user: string,
    private readonly password: string,
    private readonly cnonce: () => string = () => randomBytes(12).toString('hex'),
  ) {
    this.algorithm = (challenge.params['algorithm'] ?? 'MD5').toLowerCase();
    const hash = HASHES[this.algorithm];
    if (hash === undefined) throw new Error(`unsupported Digest algorithm ${challenge.params['algorithm']}`);
    this.hash = hash;
  }

  static supports(challenge: Challenge): boolean {
    return challenge.scheme === 'digest' && HASHES[(challenge.params['algorithm'] ?? 'MD5').toLowerCase()] !== undefined;
  }

  private h(s: string): string {
    return createHash(this.hash).update(s, 'utf8').digest('hex');
  }

  /** The Authorization value for `method` on `uri` (the request target as sent). */
  authorization(method: string, uri: string): string {
    const p = this.challenge.params;
    const realm = p['realm'] ?? '';
    const nonce = p['nonce'] ?? '';
    const qops = (p['qop'] ?? '').split(',').map((q) => q.trim().toLowerCase());
    const qop = qops.includes('auth') ? 'auth' : undefined;
    const cnonce = this.cnonce();
    const nc = (++this.nc).toString(16).padStart(8, '0');
    let ha1 = this.h(`${this.user}:${realm}:${this.password}`);
    if (this.algorithm.endsWith('-sess')) ha1 = this.h(`${ha1}:${nonce}:${cnonce}`);
    const ha2 = this.h(`${method}:${uri}`);
    const response = qop ? this.h(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : this.h(`${ha1}:${nonce}:${ha2}`);
    const parts = [
      `username=${quote(this.user)}`,
      `realm=${quote(realm)}`,
      `nonce=${quote(nonce)}`,
      `uri=${quote(uri)}`,
      `algorithm=${p['algorithm'] ?? 'MD5'}`,
      `response=${quote(response)}`,
    ];
    if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quote(cnonce)}`);
    if (p['opaque'] !== undefined) parts.push(`opaque=${quote(p['opaque'])}`);
    return `Digest ${parts.join(', ')}`;
  }
}
