/**
 * STOR with its EPSV in the same write, as lftp does. basic-ftp's uploadFrom waits for the
 * EPSV reply before it sends STOR; on loopback every extra write to the server costs a
 * wake-up of its process, which is where most of a small file's time went. Here the server
 * reads both lines at once: it answers 229 with the port, then waits in STOR for the data
 * connection we open on that answer.
 *
 * On plain FTP the data goes out as soon as the data connection is up, without waiting for
 * the 150: the kernel completes the connection in the server's listen queue, and the bytes
 * wait in the socket until the server accepts it and reads. That takes a round trip per file
 * off the critical path. The data connection is a bare socket with one inactivity timeout:
 * while data flows the control connection is silent, so its own timeout is off and a data
 * connection that stops moving for `timeoutMs` fails the upload instead (a long transfer
 * that keeps moving is fine); the pool's deadline bounds the whole operation. Under TLS the
 * data waits for the 150 and the data connection's handshake (basic-ftp's
 * connectForPassiveTransfer, which resumes the control connection's TLS session as servers
 * require).
 *
 * A data connection that fails does not decide the outcome alone: a server that refuses the
 * STOR (553) may reset a data connection it never accepted, and its reply says why. So the
 * upload waits for the STOR's final reply, up to DATA_ERROR_GRACE_MS, and fails with the
 * server's refusal when there is one.
 *
 * Contract: resolves when the server confirmed the transfer (226) and every byte left;
 * rejects with the server's FTPError (e.g. 553), a connection error (the session is then
 * closed: a reply may still be owed), or `EpsvRefused` when the server answered EPSV with
 * anything but 229 (then nothing was stored and the session is still usable; see
 * `epsvRefusalKind` for what the caller does next).
 */
import { connect, type Socket } from 'node:net';
import { pipeline, type Readable } from 'node:stream';
import { FTPError, type Client, type FTPResponse } from 'basic-ftp';
// Not re-exported by basic-ftp's index; the version is pinned in package.json.
import { connectForPassiveTransfer, parseEpsvResponse } from 'basic-ftp/dist/transfer.js';

export class EpsvRefused extends Error {
  constructor(readonly reply: FTPResponse) {
    super(`EPSV refused: ${reply.message}`);
  }

  get kind(): EpsvRefusalKind {
    return epsvRefusalKind(this.reply.code);
  }
}

/**
 * What an EPSV refusal means for the session. A permanent reply (5xx: 500/502 not
 * implemented, 522 protocol not supported, …) says the server does not do EPSV: the session
 * switches to PASV for good. A transient one (4xx) says this one data port could not be
 * opened: pure-ftpd answers "425 Unable to identify the local data socket: Address already in
 * use" when the port it drew from its passive range is still taken, a few times per 10,000
 * uploads. The next EPSV draws another port, so the upload is simply sent again; turning
 * EPSV off there would put the session on basic-ftp's slower path for the rest of the run.
 */
export type EpsvRefusalKind = 'unsupported' | 'try-again';

export function epsvRefusalKind(replyCode: number): EpsvRefusalKind {
  return replyCode >= 500 ? 'unsupported' : 'try-again';
}

/** How long a failed data connection waits for the server's verdict on the STOR. */
const DATA_ERROR_GRACE_MS = 2_000;

/** The data connection made no progress for `ms` (an ETIMEDOUT: the pool retries it once). */
function stalled(ms: number): Error {
  return Object.assign(new Error(`the data connection stalled: no progress for ${ms} ms`), { code: 'ETIMEDOUT' });
}

type TaskResolver = { resolve: (value: FTPResponse | undefined) => void; reject: (err: Error) => void };

export function storPipelined(client: Client, source: Readable | Buffer, remotePath: string): Promise<void> {
  const ftp = client.ftp;
  const host = ftp.socket.remoteAddress;
  if (host === undefined) return Promise.reject(new Error('control connection is closed'));
  const command = `STOR ${remotePath}`;
  if (/[\r\n\0]/.test(command)) return Promise.reject(new Error('FTP command contains a line break or NUL'));
  const tls = ftp.hasTLS;
  let awaiting: 'epsv' | 'stor' = 'epsv';
  let epsvRefusal: FTPResponse | undefined;
  let data: Socket | undefined;
  /** TLS only: the data connection's handshake (plain connections are used at once). */
  let connecting: Promise<void> | undefined;
  let started = false;
  let dataDone = false;
  let controlDone = false;
  let dataError: Error | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let settled = false;
  let task: TaskResolver | undefined;

  const cleanup = () => {
    settled = true;
    if (graceTimer) clearTimeout(graceTimer);
    if (tls) ftp.dataSocket = undefined; // closes it
    else data?.destroy();
  };
  const fail = (err: Error) => {
    if (settled) return;
    cleanup();
    // A reply still owed for EPSV or STOR must not reach the session's next task: after
    // anything but a server refusal (which is the last reply), the session is closed and
    // the pool opens a fresh one.
    if (!(err instanceof FTPError)) ftp.closeWithError(err);
    task?.reject(err);
  };
  /** Both the server's 226 and the end of our data are in. */
  const maybeFinish = () => {
    if (settled || !dataDone || !controlDone) return;
    cleanup();
    task?.resolve(undefined);
  };
  const onDataError = (err: Error) => {
    if (settled || dataError) return;
    dataError = err;
    // Wait for the server's verdict on the STOR (see the header).
    graceTimer = setTimeout(() => fail(err), DATA_ERROR_GRACE_MS);
  };
  const sendData = (socket: Socket) => {
    if (started) return;
    started = true;
    // While the data flows the control connection is silent: its inactivity timeout would
    // end a long upload. The data connection's inactivity is watched instead (as basic-ftp's
    // own transfers do), and the control timeout comes back once our data is out.
    ftp.socket.setTimeout(0);
    socket.setTimeout(ftp.timeout, () => fail(stalled(ftp.timeout)));
    const sent = (err?: Error | null) => {
      if (err) return onDataError(err);
      socket.setTimeout(0);
      if (!settled) ftp.socket.setTimeout(ftp.timeout);
      dataDone = true;
      maybeFinish();
    };
    // A buffer (a small file read whole) is written directly: a stream pipeline costs more
    // than the write itself (abort signals, listeners) for a few kilobytes.
    if (Buffer.isBuffer(source)) socket.end(source, sent);
    else pipeline(source, socket, sent);
  };
  const openData = (port: number) => {
    if (!tls) {
      const socket = connect({ host, port });
      data = socket;
      socket.on('error', onDataError);
      socket.once('connect', () => sendData(socket));
      return;
    }
    connecting = connectForPassiveTransfer(host, port, ftp);
    connecting.catch((err: Error) => fail(err));
  };

  const done = ftp.handle(undefined, (res, t) => {
    task = t;
    if (res instanceof Error && !(res instanceof FTPError)) return fail(res);
    if (awaiting === 'epsv') {
      awaiting = 'stor';
      if (res instanceof FTPError || res.code !== 229) {
        epsvRefusal = res;
        return; // STOR is answered with an error too (no data connection); wait for it
      }
      try {
        openData(parseEpsvResponse(res.message));
      } catch (err) {
        return fail(err as Error);
      }
      return;
    }
    if (epsvRefusal !== undefined) {
      if (res instanceof FTPError || res.code >= 200) {
        cleanup();
        t.reject(new EpsvRefused(epsvRefusal));
      }
      return;
    }
    if (res instanceof FTPError) return fail(res);
    if (res.code === 150 || res.code === 125) {
      // RFC 959 allows either. Plain data is already on its way; TLS data starts now.
      if (tls && !started) void connecting!.then(() => sendTls());
      return;
    }
    if (res.code >= 200 && res.code < 300) {
      if (dataError) return fail(dataError); // the server saw an end, but not all of our data
      controlDone = true;
      maybeFinish();
    }
  });
  const sendTls = () => {
    const socket = ftp.dataSocket;
    if (socket === undefined) return fail(new Error('the data connection closed before the upload began'));
    socket.once('error', onDataError);
    // Write only once the data connection's handshake is done.
    if ('getCipher' in socket && socket.getCipher() === undefined) socket.once('secureConnect', () => sendData(socket));
    else sendData(socket);
  };
  if (ftp.verbose) ftp.log(`> EPSV\n> ${command}`);
  ftp.socket.write(`EPSV\r\n${command}\r\n`, ftp.encoding);
  return done.then(() => undefined);
}
