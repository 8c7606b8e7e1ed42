/**
 * STOR with its EPSV in the same write, as lftp does. basic-ftp's uploadFrom waits for the
 * EPSV reply before it sends STOR; on loopback every extra write to the server costs a
 * wake-up of its process, which is where most of a small file's time went. Here the server
 * reads both lines at once: it answers 229 with the port, then waits in STOR for the data
 * connection we open on that answer.
 *
 * `source` is a stream, or a buffer written as is (never with TLS: the caller wraps TLS
 * uploads in a stream, see tls-empty-upload.ts).
 *
 * Contract: resolves when the server confirmed the transfer (226) and every byte left;
 * rejects with the server's FTPError (e.g. 553), a connection error, or `EpsvRefused` when the
 * server does not do EPSV (then nothing was stored and the caller uses basic-ftp's own
 * upload, which can fall back to PASV).
 */
import { pipeline, type Readable } from 'node:stream';
import { FTPError, type Client, type FTPResponse } from 'basic-ftp';
// Not re-exported by basic-ftp's index; the version is pinned in package.json.
import { connectForPassiveTransfer, parseEpsvResponse } from 'basic-ftp/dist/transfer.js';

export class EpsvRefused extends Error {
  constructor(readonly reply: FTPResponse) {
    super(`EPSV refused: ${reply.message}`);
  }
}

export function storPipelined(client: Client, source: Readable | Buffer, remotePath: string): Promise<void> {
  const ftp = client.ftp;
  const host = ftp.socket.remoteAddress;
  if (host === undefined) return Promise.reject(new Error('control connection is closed'));
  const command = `STOR ${remotePath}`;
  if (/[\r\n\0]/.test(command)) return Promise.reject(new Error('FTP command contains a line break or NUL'));
  let awaiting: 'epsv' | 'stor' = 'epsv';
  let epsvRefusal: FTPResponse | undefined;
  let connecting: Promise<void> | undefined;
  let started = false;
  let dataDone = false;
  let controlDone = false;
  const done = ftp.handle(undefined, (res, task) => {
    const fail = (err: Error) => {
      // A reply still owed for EPSV or STOR must not reach the session's next task: after
      // anything but a server refusal (which is the last reply), the session is closed and
      // the pool opens a fresh one.
      if (!(err instanceof FTPError)) ftp.closeWithError(err);
      ftp.dataSocket = undefined; // closes it
      task.reject(err);
    };
    if (res instanceof Error && !(res instanceof FTPError)) return fail(res);
    if (awaiting === 'epsv') {
      awaiting = 'stor';
      if (res instanceof FTPError || res.code !== 229) {
        epsvRefusal = res;
        return; // STOR is answered with an error too (no data connection); wait for it
      }
      try {
        connecting = connectForPassiveTransfer(host, parseEpsvResponse(res.message), ftp);
      } catch (err) {
        return fail(err as Error);
      }
      connecting.catch((err: Error) => fail(err));
      return;
    }
    if (epsvRefusal !== undefined) {
      if (res instanceof FTPError || res.code >= 200) task.reject(new EpsvRefused(epsvRefusal));
      return;
    }
    if (res instanceof FTPError) return fail(res);
    if (res.code === 150 || res.code === 125) {
      // RFC 959 allows either; only the first may start the transfer (a second one would
      // write the file twice).
      if (started) return;
      started = true;
      void connecting!.then(() => {
        const dataSocket = ftp.dataSocket;
        if (dataSocket === undefined) return fail(new Error('the data connection closed before the upload began'));
        const sent = (err?: Error | null) => {
          if (err) return fail(err);
          dataDone = true;
          if (controlDone) finish(task);
        };
        // A buffer (a small file read whole) is written directly: a stream pipeline costs
        // more than the write itself (abort signals, listeners) for a few kilobytes.
        const send = () => (Buffer.isBuffer(source) ? dataSocket.end(source, () => sent()) : pipeline(source, dataSocket, sent));
        // Under TLS, write only once the data connection's handshake is done.
        if ('getCipher' in dataSocket && dataSocket.getCipher() === undefined) dataSocket.once('secureConnect', send);
        else send();
      });
      return;
    }
    if (res.code >= 200 && res.code < 300) {
      controlDone = true;
      if (dataDone) finish(task);
    }
  });
  /** Both the server's 226 and the end of our data are in. */
  function finish(task: { resolve: (value: FTPResponse | undefined) => void }) {
    ftp.dataSocket = undefined;
    task.resolve(undefined);
  }
  ftp.log(`> EPSV\n> ${command}`);
  ftp.socket.write(`EPSV\r\n${command}\r\n`, ftp.encoding);
  return done.then(() => undefined);
}
