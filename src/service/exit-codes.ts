/**
 * The one table of exit codes (README, "Exit codes"), and the mapping of an error to its
 * code. Every command returns one of these; the daemon's readiness message carries one too.
 *
 *   0  success (in sync, stopped, running)
 *   1  differences or failed operations; anything unexpected
 *   2  bad input: usage, configuration, missing source; a state file that cannot be used
 *   3  a target could not be reached or refused us; `status`/`reload`: not running
 *  70  the daemon died of an uncaught error (EX_SOFTWARE)
 */
import { ConfigError } from '../core/config-error.ts';
import { StateFileError } from '../state/state-file-error.ts';
import { isTargetError } from '../targets/errors.ts';
import { AlreadyRunningError } from './pid-file.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 3, software: 70 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code an error ends a command with. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof ConfigError || err instanceof StateFileError) return EXIT.usage;
  if (err instanceof AlreadyRunningError) return EXIT.failed;
  if (isTargetError(err)) return err.code === 'E_CONFIG' ? EXIT.usage : EXIT.unavailable;
  return EXIT.failed;
}
