import type { ChildProcess } from 'node:child_process';
import { connect as netConnect, createServer } from 'node:net';

/** A loopback port nobody listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Waits until the server `proc` greets on 127.0.0.1:port with bytes starting with `greeting`
 * (sshd's "SSH-", rsyncd's "@RSYNCD:"), for up to 10 s. Rejects with what it wrote on stderr
 * when it exits first or never greets.
 */
export async function waitForGreeting(proc: ChildProcess, port: number, greeting: string, name: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before listening on 127.0.0.1:${port}:\n${stderr()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const sock = netConnect({ host: '127.0.0.1', port }, () => {
        sock.once('data', (d) => {
          sock.destroy();
          resolve(d.toString('latin1').startsWith(greeting));
        });
      });
      sock.setTimeout(1000, () => {
        sock.destroy();
        resolve(false);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${name} did not accept on 127.0.0.1:${port} within 10 s:\n${stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
