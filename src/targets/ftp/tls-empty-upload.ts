/**
 * Zero-byte uploads over FTPS to vsftpd: ending the TLS data connection right after its
 * handshake makes vsftpd fail the transfer (TLS alert "decode error" on the data socket, or
 * "wrong version number"). Files with content are unaffected. Measured here against vsftpd
 * 3.0.3 + OpenSSL 3 with 80 empty uploads on 4 sessions: 28-45 failed when ending at once,
 * 0-1 when the end is held until the server's TLS 1.3 session tickets have arrived and the
 * socket has been quiet for a moment (the rare rest is a lost connection that the pool
 * retries once).
 *
 * So on TLS sessions an upload stream passes through this Transform: when nothing at all was
 * sent, the end is held until the data socket has finished its handshake and no session ticket
 * has arrived for QUIET_MS (at most MAX_HOLD_MS in all). Costs nothing for files with content
 * and about QUIET_MS per empty file over TLS.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { TLSSocket } from 'node:tls';

const QUIET_MS = 40;
const MAX_HOLD_MS = 500;

export function holdEmptyTlsUploadEnd(dataSocket: () => unknown): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      bytes += chunk.length;
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      // The source may end before basic-ftp has even opened the data connection: wait for a
      // TLS data socket whose handshake is done, then for the tickets to stop arriving.
      if (bytes > 0) return cb();
      const started = Date.now();
      const left = () => MAX_HOLD_MS - (Date.now() - started);
      const waitForSocket = () => {
        const socket = dataSocket();
        if (socket instanceof TLSSocket && socket.getCipher() !== undefined && socket.getCipher() !== null) return waitForQuiet(socket);
        if (socket !== undefined && !(socket instanceof TLSSocket)) return cb();
        if (left() <= 0) return cb();
        setTimeout(waitForSocket, 2);
      };
      const waitForQuiet = (socket: TLSSocket) => {
        let quietTimer: NodeJS.Timeout | undefined;
        const finish = () => {
          clearTimeout(quietTimer);
          socket.off('session', arm);
          cb();
        };
        function arm() {
          clearTimeout(quietTimer);
          quietTimer = setTimeout(finish, Math.max(0, Math.min(QUIET_MS, left())));
        }
        socket.on('session', arm);
        arm();
      };
      waitForSocket();
    },
  });
}
