/**
 * Commands whose replies nobody needs to wait for before the next use of the connection,
 * sent in the same write as that next use. A put ends with MFMT, RNFR and RNTO; deferring
 * them lets them leave together with the next upload's EPSV and STOR, so each small file
 * costs the server one wake-up instead of two (the put still waits for its own replies).
 *
 * It works by wrapping basic-ftp's `FTPContext.handle` (every command goes through it):
 * when commands are deferred, the next task writes them first (corked into the same write)
 * and its handler sees their replies consumed first, in order, as FTP replies are strictly
 * sequential. Nothing else changes for basic-ftp.
 *
 * The wrapper also turns off basic-ftp's `new Error().stack` per task (it names the caller of
 * a forgotten `await`); formatting it was a tenth of the CPU of a 10,000-file push.
 *
 * Contract: `defer` resolves with one reply per command (an FTPResponse, or the FTPError of
 * a 4xx/5xx reply) once they arrived; it rejects when the connection fails first. Whoever
 * holds the session must either use it (the deferred commands then go first) or `flush()`.
 */
import { FTPError, type Client, type FTPResponse } from 'basic-ftp';

export type Reply = FTPResponse | FTPError;

interface Batch {
  readonly commands: readonly string[];
  readonly resolve: (replies: Reply[]) => void;
  readonly reject: (err: Error) => void;
}

type Handler = Parameters<Client['ftp']['handle']>[1];

export class DeferredCommands {
  private pending: Batch[] = [];
  /** Set while flush() starts its task: that task has no command of its own. */
  private flushing = false;

  constructor(private readonly client: Client) {
    const ftp = client.ftp;
    const handle = ftp.handle.bind(ftp);
    ftp.handle = (command, handler) => {
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        const batches = this.take();
        if (batches.length === 0) return handle(command, handler);
        const socket = ftp.socket;
        socket.cork();
        process.nextTick(() => socket.uncork());
        this.write(batches);
        return handle(command, consumeFirst(batches, handler, this.flushing));
      } finally {
        Error.stackTraceLimit = limit;
      }
    };
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  defer(commands: readonly string[]): Promise<Reply[]> {
    for (const c of commands) {
      if (/[\r\n\0]/.test(c)) return Promise.reject(new Error('FTP command contains a line break or NUL'));
    }
    return new Promise((resolve, reject) => this.pending.push({ commands, resolve, reject }));
  }

  /** Sends what is deferred now, alone; resolves when its replies are in. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    this.flushing = true;
    let task;
    try {
      task = this.client.ftp.handle(undefined, () => undefined);
    } finally {
      this.flushing = false;
    }
    await task;
  }

  /** Fails deferred commands that will never be sent (the connection is gone). */
  abandon(err: Error): void {
    for (const b of this.take()) b.reject(err);
  }

  private take(): Batch[] {
    const batches = this.pending;
    this.pending = [];
    return batches;
  }

  private write(batches: readonly Batch[]): void {
    const ftp = this.client.ftp;
    let text = '';
    for (const b of batches) for (const c of b.commands) text += `${c}\r\n`;
    if (ftp.verbose) ftp.log(text.trimEnd().replace(/^/gm, '> '));
    ftp.socket.write(text, ftp.encoding);
  }
}

/**
 * A handler that hands the first replies to the deferred batches, then passes the rest to
 * `handler`. With `alone` (a flush: no command of its own) the task ends with the batches.
 */
function consumeFirst(batches: readonly Batch[], handler: Handler, alone: boolean): Handler {
  let index = 0;
  let replies: Reply[] = [];
  return (res, task) => {
    if (index >= batches.length) return handler(res, task);
    if (res instanceof Error && !(res instanceof FTPError)) {
      for (const b of batches.slice(index)) b.reject(res);
      index = batches.length;
      return handler(res, task);
    }
    if (!(res instanceof FTPError) && res.code < 200) return; // preliminary: not a final reply
    replies.push(res);
    const batch = batches[index]!;
    if (replies.length < batch.commands.length) return;
    batch.resolve(replies);
    replies = [];
    index++;
    if (index === batches.length && alone) task.resolve(undefined);
  };
}
