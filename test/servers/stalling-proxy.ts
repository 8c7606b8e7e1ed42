/**
 * A TCP proxy on loopback that forwards to a server and can be told to stop forwarding
 * without closing anything: a path that went silent (a dead NAT entry, a hung router), which
 * no socket error ever reports. Only a liveness deadline notices it.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface StallingProxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stop moving bytes both ways, on open connections and new ones; nothing is closed. */
  stall(): void;
  /** Move bytes again (what was held is delivered). */
  resume(): void;
  close(): Promise<void>;
}

export async function startStallingProxy(upstreamPort: number, host = '127.0.0.1'): Promise<StallingProxy> {
  const sockets = new Set<Socket>();
  let stalled = false;
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect(upstreamPort, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      if (stalled) s.pause();
    }
    // Not pipe(): pipe() resumes a paused source on its own; these stay paused while stalled.
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (d) => to.write(d));
      from.on('end', () => to.end());
      from.on('close', () => to.destroy());
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    get accepted() {
      return accepted;
    },
    stall() {
      stalled = true;
      for (const s of sockets) s.pause();
    },
    resume() {
      stalled = false;
      for (const s of sockets) s.resume();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
