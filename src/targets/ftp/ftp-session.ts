/**
 * One logged-in FTP control connection (a basic-ftp Client) and what the server offers on it.
 *
 * A basic-ftp Client is one serial session: a second call while one is running closes it. So
 * a session is only ever used by one operation at a time (the pool hands it out), and every
 * path sent is absolute, so the working directory (which `cd`/`list` change) never matters.
 */
import { Client, FTPError, type FTPResponse } from 'basic-ftp';
import { quotePath } from '../../core/names.ts';
import { Readable } from 'node:stream';
import { TargetError } from '../errors.ts';
import { DeferredCommands, type Reply } from './deferred-commands.ts';
import { EpsvRefused, storPipelined } from './pipelined-upload.ts';
import type { FtpSettings } from './ftp-settings.ts';
import { translateFtpError } from './translate-error.ts';

/** What FEAT said, read once per connection. */
export interface FtpFeatures {
  /** MLSD/MLST: machine listings with trustworthy UTC modify times. */
  readonly mlsd: boolean;
  /** MFMT: set a file's modification time. */
  readonly mfmt: boolean;
  readonly size: boolean;
  readonly utf8: boolean;
}

export function parseFeatures(feat: Map<string, string>): FtpFeatures {
  const has = (name: string) => feat.has(name) || feat.has(name.toLowerCase());
  return { mlsd: has('MLST') || has('MLSD'), mfmt: has('MFMT'), size: has('SIZE'), utf8: has('UTF8') };
}

/** EPSV requests per upload when the server answers 4xx (it could not open that data port). */
const EPSV_ATTEMPTS = 3;

export class FtpSession {
  /** Directory the server is in (after our CWD); undefined when unknown. */
  cwd: string | undefined;

  private constructor(
    readonly client: Client,
    readonly features: FtpFeatures,
    private readonly deferred: DeferredCommands,
  ) {}

  /**
   * Connect, secure, log in, read FEAT and set the session up: binary transfers (TYPE I, never
   * ASCII, which rewrites line endings), UTF-8 names when offered, a protected data channel
   * under TLS, and MLSD listings when offered.
   */
  static async open(settings: FtpSettings): Promise<FtpSession> {
    const client = new Client(settings.timeoutMs);
    const deferred = new DeferredCommands(client);
    const fail = (err: unknown, op: 'connect' | 'login') => {
      client.close();
      return translateFtpError(err, op, '', { secret: settings.password });
    };
    // basic-ftp keeps and mutates the TLS options: each session gets its own copy.
    const tlsOptions = { ...settings.secureOptions };
    try {
      if (settings.tls === 'implicit') await client.connectImplicitTLS(settings.host, settings.port, tlsOptions);
      else await client.connect(settings.host, settings.port);
      if (settings.tls === 'explicit') await client.useTLS(tlsOptions);
    } catch (err) {
      throw fail(err, 'connect');
    }
    try {
      await client.login(settings.user, settings.password);
    } catch (err) {
      throw fail(err, 'login');
    }
    // From here on the control connection and listings carry bytes (wire.ts); the login
    // above went out as UTF-8 text, as a password always has.
    client.ftp.encoding = 'latin1';
    try {
      const features = parseFeatures(await client.features());
      await client.send('TYPE I');
      if (features.utf8) await client.sendIgnoringError('OPTS UTF8 ON');
      if (client.ftp.hasTLS) {
        await client.send('PBSZ 0');
        await client.send('PROT P');
      }
      if (features.mlsd) {
        await client.sendIgnoringError('OPTS MLST type;size;modify;');
        client.availableListCommands = ['MLSD'];
      } else {
        // "-a": servers hide dot files (our temp files among them) from a bare LIST.
        client.availableListCommands = ['LIST -a', 'LIST'];
      }
      return new FtpSession(client, features, deferred);
    } catch (err) {
      throw fail(err, 'connect');
    }
  }

  get closed(): boolean {
    return this.client.closed;
  }

  close(): void {
    this.client.close();
    this.deferred.abandon(new Error('the FTP session was closed'));
  }

  /**
   * Queue commands to go out with this session's next use (see deferred-commands.ts); the
   * promise gives their replies. The pool flushes them when no one else takes the session.
   */
  defer(commands: readonly string[]): Promise<Reply[]> {
    return this.deferred.defer(commands);
  }

  get hasDeferred(): boolean {
    return this.deferred.hasPending;
  }

  flushDeferred(): Promise<void> {
    return this.deferred.flush();
  }

  /** Send a command that takes an absolute path; line breaks cannot be sent (E_NAME). */
  send(command: string): Promise<FTPResponse> {
    return this.client.send(command);
  }

  /**
   * Sends `commands` in one write and resolves with one reply per command, in order: an
   * FTPResponse, or the FTPError of a 4xx/5xx reply (not thrown: the caller decides what a
   * refusal means, e.g. a 503 after a failed RNFR). Rejects only when the connection fails.
   *
   * Servers read the control connection as a stream of lines and answer in order (RFC 959
   * §4.2 replies are strictly sequential), so a rename's RNFR and RNTO cost one round trip
   * instead of two. Use only for commands that answer with exactly one final reply and no
   * data connection.
   */
  async pipeline(commands: readonly string[]): Promise<Reply[]> {
    // The deferred-commands mechanism, flushed at once: one write, replies in order.
    const replies = this.deferred.defer(commands);
    await Promise.all([replies, this.deferred.flush()]);
    return replies;
  }

  /** False once the server said it does not do EPSV: uploads then go through basic-ftp's PASV path. */
  private epsvPipelining = true;

  /**
   * STOR `source` to `absPath`; EPSV and STOR in one write when the server does EPSV. An EPSV
   * the server could not serve this time (4xx) is sent again, up to EPSV_ATTEMPTS in all;
   * nothing was read from `source` then, so it can be offered again. After the last one the
   * refusal is the upload's error (425 → E_CONNECTION, retried by the engine).
   */
  async upload(source: Readable | Buffer, absPath: string): Promise<void> {
    for (let attempt = 1; this.epsvPipelining; attempt++) {
      try {
        return await storPipelined(this.client, source, absPath);
      } catch (err) {
        if (!(err instanceof EpsvRefused)) throw err;
        if (err.kind === 'unsupported') this.epsvPipelining = false;
        else if (attempt >= EPSV_ATTEMPTS) throw new FTPError(err.reply);
      }
    }
    await this.client.uploadFrom(Buffer.isBuffer(source) ? Readable.from([source]) : source, absPath);
  }

  /** Change directory (skipped when already there). */
  /** CWD even when the session believes it is there already (is the folder still there?). */
  async cdAgain(absDir: string): Promise<void> {
    this.cwd = undefined;
    await this.cd(absDir);
  }

  async cd(absDir: string): Promise<void> {
    if (this.cwd === absDir) return;
    this.cwd = undefined;
    await this.client.send(`CWD ${absDir}`);
    this.cwd = absDir;
  }
}

/**
 * Line breaks end an FTP command, so such names cannot be carried by the protocol. Other
 * control characters and a trailing space are rewritten by some servers (pure-ftpd stores
 * "a\tb" as "a_b" and "x " as "x_"), which would leave a file under a name we do not know.
 * Both are refused per path, the same on every server. Any other byte is sent as it is
 * (`absPath` is in wire form, wire.ts), a name that is not valid UTF-8 included.
 */
export function assertSendable(absPath: string, relPath: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(absPath)) {
    throw new TargetError('E_NAME', `${quotePath(relPath)}: FTP cannot carry control characters (line break, tab, …) in a name`, { path: relPath });
  }
  if (/ (\/|$)/.test(absPath)) {
    throw new TargetError('E_NAME', `${quotePath(relPath)}: FTP servers do not keep a trailing space in a name (some rewrite it)`, { path: relPath });
  }
}
