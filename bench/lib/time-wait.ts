/**
 * Sockets in TIME_WAIT, and the cap the bench puts on them while it runs.
 *
 * Every FTP push opens a data connection per file, so back-to-back runs leave 10,000 closed
 * connections each in TIME_WAIT for 60 s. After a few runs the ephemeral port range is
 * crowded: connect() searches longer for a free port, every tool's figures drift by ±15 %
 * within a case (whoever runs later pays more), and servers with a passive port range start
 * failing with "Address already in use". Users do not push 30 trees a minute; a benchmark
 * does. So, when it runs as root, the bench caps the TIME_WAIT table (the kernel then drops
 * the oldest entries, which on loopback is harmless) and puts the old value back at the end,
 * also on Ctrl-C. Not root: nothing changes, and the report says so.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const SYSCTL = '/proc/sys/net/ipv4/tcp_max_tw_buckets';
const CAP = 4096;

export interface TimeWaitCap {
  /** For the report: what was done. */
  readonly description: string;
  restore(): void;
}

export function capTimeWait(): TimeWaitCap {
  let previous: string;
  try {
    previous = readFileSync(SYSCTL, 'utf8').trim();
    writeFileSync(SYSCTL, String(CAP));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? String(err);
    return { description: `TIME_WAIT sockets not capped (${why}: run as root to cap them at ${CAP}); FTP figures drift more`, restore: () => undefined };
  }
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    writeFileSync(SYSCTL, previous);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    restore();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', restore);
  return { description: `TIME_WAIT sockets capped at ${CAP} during the run (\`net.ipv4.tcp_max_tw_buckets\`, ${previous} before and after)`, restore };
}
