/**
 * The logger the engine writes to. One line per operation at info; detail at debug. Every
 * line passes through `redactSecrets`, so a URL with a password never reaches a log.
 * (A file logger with daily rotation plugs in behind the same interface.)
 */
import { redactSecrets } from '../targets/errors.ts';

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

/** Bytes of buffered stdout lines that force a write before the end of the turn. */
const STDOUT_FLUSH_BYTES = 64 * 1024;

/**
 * Terminal output: info to stdout, warnings and errors to stderr, with a time stamp.
 * Stdout lines written in one turn of the event loop leave in one write (a 10,000-file push
 * prints 10,000 lines; one syscall each cost more than the uploads' bookkeeping). Anything
 * still buffered is written before a warning or error, at the end of the turn, and at exit,
 * so the order of lines and nothing of them is lost.
 */
export function terminalSink(now: () => Date = () => new Date()): LineSink {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    process.stdout.write(text);
  };
  process.on('exit', flush);
  return (level, line) => {
    const stamp = now().toISOString().slice(11, 23);
    const text = `${stamp} ${level === 'info' ? '' : level.toUpperCase() + ' '}${line}\n`;
    if (level === 'warn' || level === 'error') {
      flush();
      process.stderr.write(text);
      return;
    }
    pending += text;
    if (pending.length >= STDOUT_FLUSH_BYTES) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
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
