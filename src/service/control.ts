/**
 * The control socket: a Unix socket next to the pid file, mode 0600 in a folder only the
 * owner can change, so only the owner (and root) can ask. One request per connection: a JSON
 * line `{"cmd":"status"}` in, one JSON line out.
 */
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import { ConfigError } from '../config/errors.ts';
import { removeQuietly } from './pid-file.ts';

export type ControlHandler = (cmd: string) => Promise<unknown> | unknown;

/** Linux sun_path is 108 bytes including the NUL. */
const MAX_SOCKET_PATH = 107;

export async function startControlServer(path: string, handler: ControlHandler): Promise<Server> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new ConfigError(`control socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes: set "pidFile" to a shorter path (the socket lives next to it)`);
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // The pid file is ours (taken before this), so a socket left here is from a dead instance.
  try {
    if (lstatSync(path).isSocket()) removeQuietly(path);
  } catch {
    // none
  }
  const server = createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.setTimeout(10_000, () => conn.destroy());
    conn.on('error', () => undefined);
    conn.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 4096) conn.destroy();
        return;
      }
      let cmd = '';
      try {
        cmd = String((JSON.parse(buf.slice(0, nl)) as { cmd?: unknown }).cmd ?? '');
      } catch {
        cmd = '';
      }
      buf = '';
      Promise.resolve()
        .then(() => handler(cmd))
        .then(
          (result) => conn.end(JSON.stringify({ ok: true, result }) + '\n'),
          (err: unknown) => conn.end(JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) }) + '\n'),
        );
    });
  });
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(path, 0o600);
  return server;
}

export async function stopControlServer(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  removeQuietly(path);
}

export class ControlUnavailable extends Error {
  override readonly name = 'ControlUnavailable';
}

/** Sends one command; ControlUnavailable when nothing listens there. */
export function controlRequest<T>(path: string, cmd: string, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const conn = createConnection(path);
    let buf = '';
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      fn();
    };
    const timer = setTimeout(() => finish(() => reject(new ControlUnavailable(`no answer on the control socket ${path} within ${timeoutMs / 1000} s`))), timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify({ cmd }) + '\n'));
    conn.on('data', (chunk: string) => (buf += chunk));
    conn.on('error', (err: NodeJS.ErrnoException) => finish(() => reject(new ControlUnavailable(`control socket ${path}: ${err.code ?? err.message}`))));
    conn.on('end', () =>
      finish(() => {
        try {
          const reply = JSON.parse(buf) as { ok: boolean; result?: T; error?: string };
          if (reply.ok) resolve(reply.result as T);
          else reject(new Error(reply.error ?? 'the daemon refused the request'));
        } catch {
          reject(new ControlUnavailable(`control socket ${path}: unreadable answer`));
        }
      }),
    );
  });
}
