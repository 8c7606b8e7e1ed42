/**
 * The `metrics:` key: where the Prometheus endpoint listens (README: Metrics). Pure parsing,
 * no I/O. Loopback unless an address is given explicitly: `9464` or `true` listen on
 * 127.0.0.1 only; `0.0.0.0:9464`, `[::]:9464` or `192.0.2.1:9464` listen where they say.
 */

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export const DEFAULT_METRICS_PORT = 9464;
const LOOPBACK = '127.0.0.1';

export type ListenParse = { ok: true; address: ListenAddress | undefined } | { ok: false; message: string };

const FIX = 'give a port (9464), host:port (127.0.0.1:9464, [::1]:9464, 0.0.0.0:9464 to listen on every interface) or true';

function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

function validHost(host: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return host.split('.').every((p) => Number(p) <= 255);
  if (host.includes(':')) return /^[0-9a-fA-F:.]+$/.test(host); // IPv6 (brackets removed)
  return /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host);
}

/** `undefined`/`false`: off. Never throws: the message says what is wrong and the fix. */
export function parseListenAddress(value: unknown): ListenParse {
  if (value === undefined || value === false) return { ok: true, address: undefined };
  if (value === true) return { ok: true, address: { host: LOOPBACK, port: DEFAULT_METRICS_PORT } };
  if (typeof value === 'number') {
    const p = Number.isInteger(value) ? port(String(value)) : undefined;
    return p === undefined ? { ok: false, message: `port ${value} is not a port from 1 to 65535; ${FIX}` } : { ok: true, address: { host: LOOPBACK, port: p } };
  }
  if (typeof value !== 'string') return { ok: false, message: FIX };
  const text = value.trim();
  const only = port(text);
  if (only !== undefined) return { ok: true, address: { host: LOOPBACK, port: only } };
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text);
  if (!m) return { ok: false, message: `${JSON.stringify(value)} is not host:port; ${FIX}` };
  const host = m[1] ?? m[2]!;
  const p = port(m[3]!);
  if (p === undefined) return { ok: false, message: `port ${m[3]} is not a port from 1 to 65535; ${FIX}` };
  if (!validHost(host)) return { ok: false, message: `${JSON.stringify(host)} is not a host name or IP address; ${FIX}` };
  return { ok: true, address: { host, port: p } };
}

/** host:port as a URL authority ([::1]:9464 for IPv6). */
export function formatListenAddress(a: ListenAddress): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
