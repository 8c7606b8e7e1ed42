/**
 * Log files: pino (one JSON object per line) into a rotating-file-stream that rotates at local
 * midnight to `daily.log.YYYY-MM-DD` (the original script's names). The debug file
 * (`daily.log.debug`) is not rotated by date, as in the original.
 *
 * Rotation survives restarts: a `daily.log` last written on an earlier day is rotated to that
 * day's name when the daemon starts.
 */
import { accessSync, constants, createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { pino, type Logger as Pino } from 'pino';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';
import { ConfigError } from '../core/config-error.ts';
import { localDay, logNow } from './clock.ts';
import type { Level } from './logger.ts';

export interface FileSink {
  readonly path: string;
  write(level: Level, line: string): void;
  close(): Promise<void>;
}

/** The rotated name for the day that ended: `daily.log.2024-03-09` (`.2`, `.3` … if taken). */
export function rotatedName(base: string, day: Date, index = 1): string {
  return `${base}.${localDay(day)}${index > 1 ? `.${index}` : ''}`;
}

/** Creates the folder and checks `file` can be written; throws a clear error when it cannot. */
function checkWritable(file: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o750 });
    // Not created here: the stream decides at open whether an old daily.log is rotated first.
    accessSync(existsSync(file) ? file : dirname(file), constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`cannot write the log file ${file} (${code}): fix the folder's permissions or set "log" to another place (or "terminal")`);
  }
}

export function openFileSink(file: string, rotateDaily: boolean): FileSink {
  checkWritable(file);
  let stream: Writable;
  if (rotateDaily) {
    const base = basename(file);
    const rfs: RotatingFileStream = createStream((time: number | Date | null, index?: number) => (time === null ? base : rotatedName(base, new Date(time), index ?? 1)), {
      path: dirname(file) + '/',
      interval: '1d',
      intervalBoundary: true,
      initialRotation: true,
      mode: 0o640,
    });
    // The rotation timer and the rotated name follow the log clock (see clock.ts); the
    // stream reads its time only through this method.
    (rfs as unknown as { now: () => Date }).now = logNow;
    stream = rfs;
  } else {
    stream = createWriteStream(file, { flags: 'a', mode: 0o640 });
  }
  let failed = false;
  stream.on('error', (err) => {
    if (failed) return;
    failed = true;
    process.stderr.write(`sync-inotify: log file ${file}: ${err.message}\n`);
  });
  const log: Pino = pino(
    {
      level: 'debug',
      base: null,
      timestamp: () => `,"time":"${logNow().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return {
    path: file,
    write(level, line) {
      if (!failed) log[level](line);
    },
    close() {
      return new Promise<void>((resolve) => {
        const done = () => resolve();
        const timer = setTimeout(done, 5_000);
        timer.unref();
        stream.once('error', done);
        stream.end(() => {
          clearTimeout(timer);
          done();
        });
        if (stream instanceof Object && (stream as WriteStream).closed) done();
      });
    },
  };
}
