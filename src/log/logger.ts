/**
 * The logger the engine writes to. One line per operation at info; detail at debug. Every
 * line passes through `redactSecrets`, so a URL with a password never reaches a log.
 * (A file logger with daily rotation plugs in behind the same interface.)
 */
import { redactSecrets } from './redact.ts';
import { aroundOverlay } from './terminal-overlay.ts';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A logger whose lines start with `prefix` (e.g. the target name). */
  child(prefix: string): Logger;
}

export type LineSink = (level: Level, line: string) => void;

export function createLogger(sink: LineSink, minLevel: Level = 'info', prefix = ''): Logger {
  const emit = (level: Level, message: string) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    sink(level, redactSecrets(prefix + message));
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    child: (p) => createLogger(sink, minLevel, prefix + p),
  };
}

/** Bytes of buffered stdout lines that force a write at once. */
const STDOUT_FLUSH_BYTES = 64 * 1024;
/**
 * How long lines may wait when stdout is a pipe or file (journald, a log collector, a
 * benchmark): every write wakes the reader, and a 10,000-file push prints 10,000 lines.
 * On a terminal lines go out at the end of the event-loop turn.
 */
const PIPE_FLUSH_MS = 50;

/**
 * Terminal output: info to stdout, warnings and errors to stderr, with a time stamp.
 * Stdout lines are batched (one write per turn on a terminal; on a pipe at most one per
 * PIPE_FLUSH_MS): one syscall per line cost more than the uploads' bookkeeping. Anything buffered is written
 * before a warning or error and at exit, so neither the order of lines nor a line is lost.
 */
export function terminalSink(now: () => Date = () => new Date()): LineSink {
  let pending = '';
  let scheduled = false;
  const interactive = process.stdout.isTTY === true;
  let lastFlush = 0;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    lastFlush = Date.now();
    const text = pending;
    pending = '';
    aroundOverlay(() => process.stdout.write(text));
  };
  process.on('exit', flush);
  return (level, line) => {
    const stamp = now().toISOString().slice(11, 23);
    const text = `${stamp} ${level === 'info' ? '' : level.toUpperCase() + ' '}${line}\n`;
    if (level === 'warn' || level === 'error') {
      flush();
      aroundOverlay(() => process.stderr.write(text));
      return;
    }
    pending += text;
    if (pending.length >= STDOUT_FLUSH_BYTES) flush();
    else if (!scheduled) {
      scheduled = true;
      // A quiet pipe gets the line at the end of the turn; a busy one at most every PIPE_FLUSH_MS.
      const wait = interactive ? 0 : lastFlush + PIPE_FLUSH_MS - Date.now();
      if (wait <= 0) setImmediate(flush);
      else setTimeout(flush, wait).unref();
    }
  };
}

export const silentLogger: Logger = createLogger(() => undefined, 'error');

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
