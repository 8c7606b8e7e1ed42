/**
 * Where a running instance's log lines go, changeable while it runs: `reopen()` after SIGHUP
 * (or an outside logrotate), `configure()` when a reloaded configuration moves the log or
 * turns debug on. The engine only sees the `Logger` built on `sink`.
 *
 * Every line is redacted twice: URL passwords by `createLogger` (redactSecrets), and here
 * every configured secret (passwords, passphrases) wherever it appears.
 */
import { logNow } from './clock.ts';
import { openFileSink, type FileSink } from './file-sink.ts';
import { terminalSink, type Level, type LineSink } from './logger.ts';
import { maskSecrets } from './redact.ts';



const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSettings {
  /** Write to stdout/stderr (the `run` format the tests and journald read). */
  readonly terminal: boolean;
  /** `…/daily.log`: rotated at midnight; with `debug` the file is `daily.log.debug` instead. */
  readonly file?: string;
  readonly debug: boolean;
}


export function logFileFor(settings: LogSettings): string | undefined {
  if (settings.file === undefined) return undefined;
  return settings.debug ? `${settings.file}.debug` : settings.file;
}

export class LogOutput {
  private file: FileSink | undefined;
  private readonly terminal = terminalSink(logNow);
  private settings: LogSettings;
  private secrets: string[];

  constructor(settings: LogSettings, secrets: readonly string[] = []) {
    this.settings = settings;
    this.secrets = [...secrets];
    this.open();
  }

  /** The file lines go to (undefined: terminal only). */
  get path(): string | undefined {
    return this.file?.path;
  }

  readonly sink: LineSink = (level, line) => {
    if (ORDER[level] < ORDER[this.settings.debug ? 'debug' : 'info']) return;
    const text = maskSecrets(line, this.secrets);
    if (this.settings.terminal) this.terminal(level, text);
    this.file?.write(level, text);
  };

  private open(): void {
    const file = logFileFor(this.settings);
    this.file = file === undefined ? undefined : openFileSink(file, !this.settings.debug);
  }

  /** Closes and reopens the log file (after SIGHUP or an outside rotation). */
  async reopen(): Promise<void> {
    const old = this.file;
    this.open();
    await old?.close();
  }

  /** New settings (reload): opens the new file before closing the old one. */
  async configure(settings: LogSettings, secrets: readonly string[]): Promise<void> {
    const old = this.file;
    const previous = this.settings;
    this.settings = settings;
    try {
      this.open();
    } catch (err) {
      this.settings = previous;
      this.file = old;
      throw err;
    }
    this.secrets = [...secrets];
    await old?.close();
  }

  async close(): Promise<void> {
    const f = this.file;
    this.file = undefined;
    await f?.close();
  }
}
