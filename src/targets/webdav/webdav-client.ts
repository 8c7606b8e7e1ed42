/**
 * A thin WebDAV client on undici: one `Agent` per target (keep-alive, at most `connections`
 * sockets, header and body timeouts, TLS verified), one call per HTTP request, and the
 * authentication handshake (http-auth.ts). No WebDAV library: the target sets Depth,
 * Destination, Overwrite and Content-Length itself, exactly.
 *
 * Contract: `send` resolves with any HTTP status (the caller's table decides what a status
 * means for its operation) and rejects only with a TargetError: a network failure
 * (translate-error.ts), or E_AUTH when the server refuses the credentials. Every response
 * body is read or dumped, so its socket goes back to the pool.
 */
import { Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import { TargetError } from '../errors.ts';
import { DigestSession, basicAuthorization, parseChallenges } from './http-auth.ts';
import { translateNetworkError } from './translate-error.ts';
import { undici } from './webdav-modules.ts';
import type { WebdavSettings } from './webdav-settings.ts';

export interface DavRequest {
  readonly method: string;
  /** Encoded request path (webdav-paths.ts). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The body, made fresh for each attempt (an auth retry sends it again). A stream needs an
   * exact `length`: it is sent with Content-Length, never chunked (some servers store an
   * empty file from a chunked PUT).
   */
  readonly body?: () => Buffer | string | Readable;
  readonly length?: number;
  /** Read the response body as text (multistatus); otherwise it is dumped. */
  readonly readBody?: boolean;
  /** The target path, for error messages. */
  readonly about: string;
}

export interface DavResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

/** Methods safe to send again after a socket failure (the server may have run them once). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PROPFIND', 'PUT', 'DELETE', 'PROPPATCH', 'MKCOL']);
/** Keep a bigger body out of memory: a listing of ~100,000 members is far below. */
const MAX_TEXT_BYTES = 64 * 1024 * 1024;

type AuthState = { kind: 'none' } | { kind: 'basic'; value: string } | { kind: 'digest'; session: DigestSession } | { kind: 'custom' };

export class DavClient {
  private agent: Agent | undefined;
  private auth: AuthState;

  constructor(private readonly s: WebdavSettings) {
    // A configured Authorization header (a bearer token) replaces the login handshake.
    const custom = Object.keys(s.headers).some((h) => h.toLowerCase() === 'authorization');
    this.auth = custom ? { kind: 'custom' } : { kind: 'none' };
  }

  private dispatcher(): Agent {
    this.agent ??= new (undici().Agent)({
      connections: this.s.connections,
      // One request at a time per socket: WebDAV writes are not idempotent enough to pipeline
      // behind one another, and a request waiting behind a big PUT would only wait longer.
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      headersTimeout: this.s.timeoutMs,
      bodyTimeout: this.s.timeoutMs,
      connect: {
        timeout: this.s.timeoutMs,
        ...(this.s.tls === undefined
          ? {}
          : {
              rejectUnauthorized: this.s.tls.rejectUnauthorized,
              ...(this.s.tls.ca ? { ca: this.s.tls.ca } : {}),
              ...(this.s.tls.servername ? { servername: this.s.tls.servername } : {}),
            }),
      },
    });
    return this.agent;
  }

  private authorization(method: string, path: string): string | undefined {
    switch (this.auth.kind) {
      case 'basic':
        return this.auth.value;
      case 'digest':
        return this.auth.session.authorization(method, path);
      default:
        return undefined;
    }
  }

  /**
   * Take a 401's challenge: true when a new attempt makes sense (credentials not tried yet
   * in this form, or a stale Digest nonce); false when the login was refused.
   */
  private answerChallenge(res: Dispatcher.ResponseData, sentAuth: boolean): boolean {
    if (this.s.user === undefined || this.s.password === undefined || this.auth.kind === 'custom') return false;
    const challenges = parseChallenges(res.headers['www-authenticate']);
    const digest = challenges.find((c) => DigestSession.supports(c));
    if (digest !== undefined) {
      const stale = digest.params['stale']?.toLowerCase() === 'true';
      if (sentAuth && !stale) return false;
      this.auth = { kind: 'digest', session: new DigestSession(digest, this.s.user, this.s.password) };
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (sentAuth && this.auth.kind === 'basic') return false;
      this.auth = { kind: 'basic', value: basicAuthorization(this.s.user, this.s.password) };
      return true;
    }
    return false;
  }

  async send(req: DavRequest): Promise<DavResponse> {
    let socketRetries = IDEMPOTENT.has(req.method) ? 1 : 0;
    for (let attempt = 0; ; attempt++) {
      const authorization = this.authorization(req.method, req.path);
      const headers: Record<string, string> = { ...this.s.headers, ...req.headers };
      if (authorization !== undefined) headers['authorization'] = authorization;
      if (req.body !== undefined) headers['content-length'] = String(req.length ?? 0);
      let res: Dispatcher.ResponseData;
      try {
        res = await undici().request(this.s.origin + req.path, {
          method: req.method as Dispatcher.HttpMethod,
          headers,
          ...(req.body !== undefined ? { body: req.body() } : {}),
          dispatcher: this.dispatcher(),
        });
      } catch (err) {
        if (err instanceof TargetError) throw err;
        const code = (err as { code?: string }).code;
        // A keep-alive socket the server closed while idle fails the next request at once;
        // one fresh attempt on another socket is not a retry of anything the server saw.
        if (socketRetries-- > 0 && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE')) continue;
        if (code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
          throw new TargetError('E_NOT_FOUND', `${req.method} ${JSON.stringify(req.about)}: the local file changed size while it was sent; it will be looked at again`, { path: req.about, cause: err });
        }
        throw translateNetworkError(err, `${req.method} ${this.s.displayName} ${JSON.stringify(req.about)}`, req.about);
      }
      if (res.statusCode === 401 && attempt < 2) {
        await res.body.dump().catch(() => undefined);
        if (this.answerChallenge(res, authorization !== undefined)) continue;
        throw this.loginRefused();
      }
      if (res.statusCode === 401) {
        await res.body.dump().catch(() => undefined);
        throw this.loginRefused();
      }
      let text = '';
      try {
        if (req.readBody || res.statusCode === 207) text = await readText(res.body);
        else await res.body.dump();
      } catch (err) {
        throw translateNetworkError(err, `${req.method} ${this.s.displayName} ${JSON.stringify(req.about)}: reading the answer`, req.about);
      }
      return { status: res.statusCode, headers: res.headers, text };
    }
  }

  private loginRefused(): TargetError {
    const how =
      this.auth.kind === 'custom'
        ? 'the configured Authorization header was refused'
        : this.s.user === undefined
          ? 'the server asks for a login: put the user in the URL (webdav://user@host/…) and set password or passwordFile'
          : this.s.password === undefined
            ? `no password for ${this.s.user}: set password or passwordFile`
            : `login rejected for ${this.s.user} (${this.auth.kind === 'digest' ? 'Digest' : 'Basic'} auth)`;
    return new TargetError('E_AUTH', `${this.s.displayName}: ${how}`);
  }

  /**
   * Open the other sockets now (Target.prewarm): `connections` requests at once, each on a
   * socket of its own since none may share one. Failures are left to later requests.
   */
  prewarm(path: string): void {
    for (let i = 0; i < this.s.connections; i++) {
      this.send({ method: 'OPTIONS', path, about: '' }).catch(() => undefined);
    }
  }

  /** Cut every socket, including those still connecting; the next request opens new ones. */
  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    if (agent !== undefined) await agent.destroy().catch(() => undefined);
  }
}

async function readText(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_TEXT_BYTES) {
      body.destroy();
      throw new Error(`answer larger than ${MAX_TEXT_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A stream of exactly `size` bytes of `source`: more is cut (it is sent again once it settles), less fails. */
export function exactLength(source: Readable, size: number): Readable {
  let sent = 0;
  return Readable.from(
    (async function* () {
      try {
        for await (const chunk of source as AsyncIterable<Buffer | string>) {
          const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          const room = size - sent;
          if (buf.length >= room) {
            if (room > 0) yield buf.subarray(0, room);
            sent = size;
            return;
          }
          sent += buf.length;
          yield buf;
        }
      } finally {
        source.destroy();
      }
    })(),
    { objectMode: false },
  );
}
